package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The Beats lines (docs/lines.md): the suite runs against the 7.17 line's
// dist/ by default and against the 9.5 line's dist/9.5/ with BEATS=9.5,
// as ./build.sh test does for the tests it names in E2E_95. The tests here
// are what differs between the lines' Filebeats, and what crosses them.

// beatsLine is the line under test: BEATS, 7.17 when unset.
func beatsLine() string {
	switch line := os.Getenv("BEATS"); line {
	case "", "7.17":
		return "7.17"
	case "9.5":
		return "9.5"
	default:
		panic(fmt.Sprintf("e2e: BEATS=%s: the tests run against one line, 7.17 or 9.5", line))
	}
}

// lineDist is where build.sh puts the binaries of the line under test when
// given DIST=parent: parent itself for 7.17, parent/9.5 for 9.5.
func lineDist(parent string) string {
	if beatsLine() == "9.5" {
		return filepath.Join(parent, "9.5")
	}
	return parent
}

// otherDists are the dist folders of both lines, for the tests that need
// both; the test is skipped, saying so, when the other line is not built.
func bothDists(t *testing.T) (d717, d95 string) {
	t.Helper()
	d717 = filepath.Join(root, "dist")
	d95 = filepath.Join(d717, "9.5")
	for _, d := range []string{d717, d95} {
		if _, err := os.Stat(filepath.Join(d, "filebeat")); err != nil {
			t.Skipf("needs both lines built (BEATS=all ./build.sh, as ./build.sh test does): %v", err)
		}
	}
	return d717, d95
}

// only95 skips a test that crosses the lines outside the 9.5 run, so that
// ./build.sh test runs it once.
func only95(t *testing.T) {
	t.Helper()
	if beatsLine() != "9.5" {
		t.Skip("crosses the lines: runs with BEATS=9.5")
	}
}

func TestLines_LogInputRunsOn9OnlyWithAllowDeprecatedUse(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow_deprecated_use=%v", allow), func(t *testing.T) {
			dir := t.TempDir()
			log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
			writeLog(t, log, 0, 100)
			input := fmt.Sprintf("- type: log\n  paths: [%q]\n  scan_frequency: 200ms\n", log)
			if allow {
				input += "  allow_deprecated_use: true\n"
			}
			recv := startReceiver(t, dir, "127.0.0.1:0", out)
			fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), input, outputTo(recv, ""))
			if beatsLine() == "9.5" && !allow {
				// 9.x refuses the log input at start, naming it.
				if err := fb.wait(t, time.Minute); err == nil {
					t.Fatal("Filebeat 9.5 ran a log input without allow_deprecated_use and exited cleanly")
				}
				if want := "Found log input configuration"; !strings.Contains(fb.output(), want) {
					t.Fatalf("Filebeat 9.5's error does not say %q:\n%s", want, fb.tail())
				}
				return
			}
			// 7.17 runs it either way (the setting is unknown to it and
			// ignored); 9.5 with the setting.
			waitFor(t, time.Minute, "100 events through the log input", func() bool {
				if !fb.running() {
					t.Fatalf("Filebeat exited (%v):\n%s", fb.err, fb.tail())
				}
				return recv.stats(t).Events == 100
			})
			fb.stop(t)
			recv.stop(t)
			wantLines(t, received(t, out), 100)
		})
	}
}

func TestLines_FilestreamOn9SkipsAFileUnder1KiBUntilItGrows(t *testing.T) {
	dir := t.TempDir()
	log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
	writeLog(t, log, 0, 3) // 3 lines of about 200 bytes: under 1 KiB
	recv := startReceiver(t, dir, "127.0.0.1:0", out)
	fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), inputFor(log), outputTo(recv, ""))
	if beatsLine() == "7.17" {
		// 7.17 identifies files by inode and device: it reads them at once.
		waitFor(t, time.Minute, "the 3 lines of a small file", func() bool { return recv.stats(t).Events == 3 })
	} else {
		// 9.x identifies them by the fingerprint of their first 1024
		// bytes: a smaller file waits, and Filebeat says so once.
		const warning = "ingestion from some files will be delayed"
		waitFor(t, time.Minute, "Filebeat's warning that small files are delayed", func() bool {
			return strings.Contains(fb.output(), warning)
		})
		if n := recv.stats(t).Events; n != 0 {
			t.Fatalf("the receiver got %d events of a file under 1 KiB", n)
		}
	}
	writeLog(t, log, 3, 10) // now about 2 KiB
	waitFor(t, time.Minute, "every line once the file is over 1 KiB", func() bool { return recv.stats(t).Events == 10 })
	fb.stop(t)
	recv.stop(t)
	wantLines(t, received(t, out), 10)
}

func TestLines_PluginOfTheOtherLineIsRefusedByPlugincheckAndByFilebeat(t *testing.T) {
	only95(t)
	d717, d95 := bothDists(t)
	for _, pair := range []struct{ host, plugin, want string }{
		{d717, d95, "websocket.so is a plugin for Filebeat 9.5"},
		{d95, d717, "websocket.so is a plugin for Filebeat 7.17"},
	} {
		out, status := runIn(t, root, nil, filepath.Join(d717, "plugincheck"),
			filepath.Join(pair.host, "filebeat"), filepath.Join(pair.plugin, "websocket.so"))
		if status != 1 || !strings.Contains(out, pair.want) || !strings.Contains(out, "a plugin loads only into a Filebeat of its own line") {
			t.Errorf("plugincheck %s %s exited %d, want 1 and %q:\n%s", pair.host, pair.plugin, status, pair.want, out)
		}
		// Filebeat itself refuses it at start, as Go's loader does.
		dir := t.TempDir()
		log := filepath.Join(dir, "app.log")
		writeLog(t, log, 0, 10)
		fb := startFilebeatFrom(t, filepath.Join(pair.host, "filebeat"), dir, filepath.Join(pair.plugin, "websocket.so"),
			inputFor(log), "addr: 127.0.0.1:9\n")
		if err := fb.wait(t, time.Minute); err == nil {
			t.Errorf("%s/filebeat loaded %s/websocket.so and exited cleanly", pair.host, pair.plugin)
		}
		if want := "plugin was built with a different version of package"; !strings.Contains(fb.output(), want) {
			t.Errorf("%s/filebeat with %s/websocket.so does not say %q:\n%s", pair.host, pair.plugin, want, fb.tail())
		}
	}
}

func TestLines_UpgradeFrom717To95InPlaceResumesWithoutResendingOrLosing(t *testing.T) {
	only95(t)
	d717, d95 := bothDists(t)
	dir := t.TempDir()
	log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
	const first, total = 5000, 8000
	writeLog(t, log, 0, first)
	recv := startReceiver(t, dir, "127.0.0.1:0", out)

	// 7.17 ships the first lines and records them in its registry.
	fb := startFilebeatFrom(t, filepath.Join(d717, "filebeat"), dir, filepath.Join(d717, "websocket.so"), inputFor(log), outputTo(recv, ""))
	waitFor(t, 2*time.Minute, fmt.Sprintf("%d events from Filebeat 7.17", first), func() bool { return recv.stats(t).Events == first })
	fb.stop(t)

	// The log grows while no Filebeat runs; 9.5 starts on the same data
	// path (the same registry) and the same configuration.
	writeLog(t, log, first, total)
	fb = startFilebeatFrom(t, filepath.Join(d95, "filebeat"), dir, filepath.Join(d95, "websocket.so"), inputFor(log), outputTo(recv, ""))
	waitFor(t, 2*time.Minute, fmt.Sprintf("%d events in all after Filebeat 9.5 started", total), func() bool {
		if n := recv.stats(t).Events; n > total {
			t.Fatalf("the receiver got %d events for %d lines: Filebeat 9.5 sent again what 7.17 had sent", n, total)
		}
		return recv.stats(t).Events == total
	})
	// The registry's offset is settled; anything sent again would be
	// sent at once, with the rest.
	fb.stop(t)
	recv.stop(t)
	wantLines(t, received(t, out), total)
}
