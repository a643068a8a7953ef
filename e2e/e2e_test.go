package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const lines = 100000

func inputFor(log string) string {
	return fmt.Sprintf(`
- type: filestream
  id: e2e
  paths: [%q]
  prospector.scanner.check_interval: 200ms
  backoff.init: 100ms
  backoff.max: 500ms
`, log)
}

func outputTo(r *receiver, extra string) string {
	return fmt.Sprintf("addr: %q\npath: /echo\n%s", r.addr, extra)
}

func TestEndToEnd_DeliversEveryLineInOrder(t *testing.T) {
	for _, frame := range []string{"event", "batch"} {
		t.Run("frame="+frame, func(t *testing.T) { deliversEveryLineInOrder(t, frame) })
	}
}

func deliversEveryLineInOrder(t *testing.T, frame string) {
	dir := t.TempDir()
	log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
	writeLog(t, log, 0, lines)

	recv := startReceiver(t, dir, "127.0.0.1:0", out)
	start := time.Now()
	fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), inputFor(log), outputTo(recv, "frame: "+frame))

	var first time.Time
	waitFor(t, 5*time.Minute, fmt.Sprintf("%d events at the receiver", lines), func() bool {
		n := recv.stats(t).Events
		if n > 0 && first.IsZero() {
			first = time.Now()
		}
		if n > lines {
			t.Fatalf("receiver got %d events for %d lines", n, lines)
		}
		return n == lines
	})
	done := time.Now()
	t.Logf("%d lines in %v from Filebeat's start (%.0f lines/s), %v from the first message (%.0f lines/s)",
		lines, done.Sub(start).Round(time.Millisecond), lines/done.Sub(start).Seconds(),
		done.Sub(first).Round(time.Millisecond), lines/done.Sub(first).Seconds())

	// What the plugin reported through the Observer is what Filebeat shows.
	var st outputStats
	waitFor(t, 30*time.Second, "Filebeat's output metrics to show every event acked", func() bool {
		st = fb.outputStats(t)
		return st.Events.Acked == lines
	})
	if st.Events.Failed != 0 || st.Events.Dropped != 0 || st.Write.Errors != 0 || st.Write.Bytes == 0 {
		t.Fatalf("output metrics: %+v", st)
	}

	fb.stop(t)
	recv.stop(t)
	wantLines(t, received(t, out), lines)
	if !strings.Contains(fb.output(), "websocket output") {
		t.Fatalf("Filebeat's log does not show the plugin's start line:\n%s", fb.tail())
	}
}

func TestEndToEnd_ReconnectsAndResumesAfterReceiverRestart(t *testing.T) {
	dir := t.TempDir()
	log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")

	// The log grows while Filebeat runs, so the receiver's outage is
	// certainly mid-stream.
	writing := growLog(t, log, 1000, lines, 1000, 50*time.Millisecond)

	recv := startReceiver(t, dir, "127.0.0.1:0", out)
	const backoffInit = 200 * time.Millisecond
	fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), inputFor(log),
		outputTo(recv, fmt.Sprintf("backoff.init: %v\nbackoff.max: 2s", backoffInit)))

	waitFor(t, 2*time.Minute, "the first 20000 events", func() bool { return recv.stats(t).Events >= 20000 })
	recv.stop(t)
	before := received(t, out)
	failuresBefore := strings.Count(fb.output(), "Failed to connect to websocket(ws://"+recv.addr+"/echo)")

	const outage = 3 * time.Second
	time.Sleep(outage) // the outage itself, not synchronisation
	failures := strings.Count(fb.output(), "Failed to connect to websocket(ws://"+recv.addr+"/echo)") - failuresBefore
	if !strings.Contains(fb.output(), "connection refused") || failures < 1 {
		t.Fatalf("Filebeat logged no failed connect during the outage:\n%s", fb.tail())
	}
	// Every wait is at least backoff.init, so no more attempts than this fit
	// in the outage; the jittered exponential backoff makes far fewer, a
	// tight loop would make thousands.
	if failures > int(outage/backoffInit)+2 {
		t.Fatalf("%d connect attempts in a %v outage: no backoff", failures, outage)
	}

	recv2 := startReceiver(t, dir, recv.addr, out)
	if err := <-writing; err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Minute, "delivery to resume and finish", func() bool {
		return int(recv2.stats(t).Events)+len(before) >= lines
	})
	fb.stop(t)
	recv2.stop(t)

	got := received(t, out)
	seen := make(map[string]int, len(got))
	for _, m := range got {
		seen[m]++
	}
	duplicates := len(got) - len(seen)
	for i := 0; i < lines; i++ {
		if seen[line(i)] == 0 {
			t.Fatalf("line %d never arrived (%d of %d lines arrived)", i, len(seen), lines)
		}
	}
	if len(seen) != lines {
		t.Fatalf("received %d distinct messages, want %d", len(seen), lines)
	}
	t.Logf("%d connect failures during a %v outage after %d messages; all %d lines arrived, %d duplicates",
		failures, outage, len(before), lines, duplicates)
	// The receiver drains on SIGTERM (close frame, then read until the
	// client's answer), so a graceful restart neither loses nor repeats.
	if duplicates != 0 {
		t.Fatalf("%d duplicates across a graceful receiver restart", duplicates)
	}
	if n := strings.Count(fb.output(), "Connection to websocket(ws://"+recv.addr+"/echo) established"); n < 2 {
		t.Fatalf("Filebeat connected %d times, want a reconnect", n)
	}
}

func TestHotSwap_PluginRebuiltAfterCodeChangeLoadsIntoUnchangedFilebeat(t *testing.T) {
	dir := t.TempDir()
	hostBefore := sha256File(t, filepath.Join(dist, "filebeat"))

	// A copy of this module with a change to the plugin's code, built with
	// `./build.sh plugin` alone into a folder of its own that links to
	// dist/filebeat, so the build checks the plugin against it. The 9.5
	// line compiles the change through a link, as all shared source.
	src := filepath.Join(dir, "src")
	copyTree(t, root, src, "dist", ".git", ".bench")
	change := "package wsclient\n\nfunc init() { Version += \"+changed\" }\n"
	if err := os.WriteFile(filepath.Join(src, "wsclient", "zz_hotswap.go"), []byte(change), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../wsclient/zz_hotswap.go", filepath.Join(src, "beats95", "wsclient", "zz_hotswap.go")); err != nil {
		t.Fatal(err)
	}
	swap := filepath.Join(dir, "swap")
	swapped := hostOnlyDist(t, lineDist(swap), filepath.Join(dist, "filebeat"))
	version := fmt.Sprintf("hotswap-%d", time.Now().UnixNano())
	out, status := runIn(t, src, []string{"DIST=" + swap, "PLUGIN_VERSION=" + version}, "./build.sh", "plugin")
	if status != 0 || !strings.Contains(out, "compatible: websocket.so can load into filebeat") {
		t.Fatalf("./build.sh plugin exited %d, want it to pass the check against dist/filebeat:\n%s", status, out)
	}
	if hostAfter := sha256File(t, filepath.Join(dist, "filebeat")); hostAfter != hostBefore {
		t.Fatal("building the plugin changed dist/filebeat")
	}
	if fi, err := os.Lstat(filepath.Join(swapped, "filebeat")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("./build.sh plugin built a host too (%v)", err)
	}

	log := shipLines(t, dir, filepath.Join(dist, "filebeat"), filepath.Join(swapped, "websocket.so"), 1000)
	if !strings.Contains(log, "websocket output "+version+"+changed") {
		t.Fatalf("Filebeat did not log the changed plugin's version %s+changed:\n%s", version, log)
	}
}

// copyTree copies the regular files and links under from to to, skipping
// the named top-level entries; a link keeps its target (the 9.5 line's
// links to the shared source are relative).
func copyTree(t *testing.T, from, to string, skip ...string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		for _, s := range skip {
			if rel == s && d.IsDir() {
				return filepath.SkipDir
			}
			if rel == s {
				return nil // in a git worktree .git is a file: SkipDir would skip its siblings
			}
		}
		target := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		info, err := d.Info()
		if err == nil && info.Mode()&os.ModeSymlink != 0 {
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		}
		if err != nil || !info.Mode().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEndToEnd_CodecJSONShipsWholeEventsInBatches(t *testing.T) {
	dir := t.TempDir()
	log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
	writeLog(t, log, 0, 1000)
	recv := startReceiver(t, dir, "127.0.0.1:0", out)
	fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), inputFor(log),
		outputTo(recv, "frame: batch\ncodec.json: {}"))
	waitFor(t, 2*time.Minute, "1000 events", func() bool { return recv.stats(t).Events == 1000 })
	fb.stop(t)
	recv.stop(t)

	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(got) != 1000 {
		t.Fatalf("received %d lines, want 1000", len(got))
	}
	for i, l := range got {
		var ev struct {
			Timestamp string `json:"@timestamp"`
			Message   string
			Log       struct{ File struct{ Path string } }
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("line %d: %v: %q", i, err, l)
		}
		if ev.Message != line(i) || ev.Timestamp == "" || ev.Log.File.Path != log {
			t.Fatalf("line %d is not the whole event of log line %d: %q", i, i, l)
		}
	}
}

func TestEndToEnd_BadConfigStopsFilebeatAtStartNamingKeyAndValue(t *testing.T) {
	const addr = "addr: 127.0.0.1:9\n"
	cases := map[string]string{
		addr + "schema: http":                      `output.websocket.schema: "http" is not supported`,
		addr + "workers: 0":                        "output.websocket.workers: 0 is invalid",
		"addr: ''":                                 "output.websocket.addr: must not be empty",
		addr + "ping_interval: -5":                 "output.websocket.ping_interval: -5s is negative",
		addr + "frame: lines":                      `output.websocket.frame: "lines" is not supported`,
		"path: /in":                                "output.websocket.hosts: no server given",
		addr + "hosts: ['ws://127.0.0.1:9/in']":    "output.websocket.hosts: set together with addr: give the server either as hosts",
		"hosts: ['http://127.0.0.1:9/in']":         `output.websocket.hosts[0]: "http://127.0.0.1:9/in": scheme "http" is not supported`,
		addr + "ssl.certificate_authorities: [/x]": "output.websocket.ssl: settings are given but ws://127.0.0.1:9/echo is not a wss:// URL",
		// Wrong types, and values the configuration library would convert.
		addr + "ack.enable: true":                                "output.websocket.ack.enable: not a setting of this output, did you mean ack.enabled?",
		addr + "workers: abc":                                    "output.websocket.workers: can not convert 'string' into 'int'",
		addr + "ack.enabled: maybe":                              "output.websocket.ack.enabled: can not convert 'string' into 'bool'",
		addr + "timeout: soon":                                   `output.websocket.timeout: time: invalid duration "soon"`,
		addr + "headers: [Authorization, x]":                     "output.websocket.headers: give header names with their values",
		addr + "ssl: true":                                       "output.websocket.ssl: give settings such as ssl.certificate_authorities, not a single value",
		"addr: localhost":                                        `output.websocket.addr: "localhost" is not host:port`,
		"hosts: ['ws://127.0.0.1:99999/in']":                     `output.websocket.hosts[0]: port "99999" is not a number from 1 to 65535`,
		addr + "codec.json.escape_html: 3":                       "output.websocket.codec.json.escape_html: must be true or false",
		addr + "proxy_url: ftp://proxy:21":                       `output.websocket.proxy_url: scheme "ftp" is not supported`,
		"hosts: ['wss://127.0.0.1:9/in']\nssl.ca_sha256: [nope]": `output.websocket.ssl.ca_sha256[0]: "nope" is not a SHA-256 fingerprint`,
		// Beats' names: both names of one setting, and bad values named
		// as given.
		addr + "workers: 2\nworker: 2":             "output.websocket.worker: set together with workers, the same setting",
		addr + "batch_size: 50\nbulk_max_size: 50": "output.websocket.bulk_max_size: set together with batch_size, the same setting",
		addr + "retry_limit: 1\nmax_retries: 1":    "output.websocket.max_retries: set together with retry_limit, the same setting",
		addr + "worker: 0":                         "output.websocket.worker: 0 is invalid",
	}
	if beatsLine() == "9.5" {
		// Filebeat 9.5's pipeline reads output.*.ssl for its certificate
		// reloader before the output's factory runs; its error names the
		// key and the wrong type.
		cases[addr+"ssl: true"] = "can not convert 'bool' into 'object' accessing 'output.websocket.ssl'"
	}
	for setting, want := range cases {
		t.Run(setting, func(t *testing.T) {
			t.Parallel() // each waits for a Filebeat to start and exit
			dir := t.TempDir()
			log := filepath.Join(dir, "app.log")
			writeLog(t, log, 0, 1)
			fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), inputFor(log), setting)
			if err := fb.wait(t, time.Minute); err == nil {
				t.Fatalf("Filebeat accepted %q and exited cleanly", setting)
			}
			if !strings.Contains(fb.output(), want) {
				t.Fatalf("Filebeat's error for %q does not say %q:\n%s", setting, want, fb.tail())
			}
			if out := fb.output(); strings.Contains(out, "panic:") || strings.Contains(out, "goroutine ") {
				t.Fatalf("Filebeat crashed or printed a stack trace for %q:\n%s", setting, fb.tail())
			}
		})
	}
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
