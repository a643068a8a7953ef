package e2e

import (
	"fmt"
	"os"
	"os/exec"
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

// lineDist is where build.sh puts the binaries of the line and the
// architecture under test when given DIST=parent: parent itself for 7.17,
// parent/9.5 for 9.5, and in that, arm64/ for arm64 (archDist).
func lineDist(parent string) string {
	return archDist(lineFolder(parent), testArch())
}

// lineFolder is the folder of the line under test's amd64 build, given
// DIST=parent: parent itself for 7.17, parent/9.5 for 9.5.
func lineFolder(parent string) string {
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

// upgradeCase is a Filebeat 7.17 that ships first lines of a log and
// stops, the log growing to total lines, and Filebeat 9.5 started on the
// same data path with the same configuration.
type upgradeCase struct {
	name         string
	input        func(log string) string
	first, total int
	// want9 is in Filebeat 9.5's log: how it took the registry over.
	want9 string
}

var upgradeCases = []upgradeCase{
	// 9.x identifies filestream's files by fingerprint, 7.17 by inode and
	// device: at start 9.x moves each registry entry whose file is still
	// there, and at least 1 KiB, to its fingerprint.
	{"filestream", inputFor, 5000, 8000, "are the same, migrating"},
	// The log input keeps its registry as it was; 9.x runs it only with
	// allow_deprecated_use, which 7.17 ignores.
	{"log input with allow_deprecated_use", func(log string) string {
		return fmt.Sprintf("- type: log\n  paths: [%q]\n  scan_frequency: 200ms\n  allow_deprecated_use: true\n", log)
	}, 5000, 8000, ""},
}

func TestLines_UpgradeFrom717To95InPlaceResumesWithoutResendingOrLosing(t *testing.T) {
	only95(t)
	d717, d95 := bothDists(t)
	for _, uc := range upgradeCases {
		t.Run(uc.name, func(t *testing.T) {
			dir := t.TempDir()
			log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
			writeLog(t, log, 0, uc.first)
			recv := startReceiver(t, dir, "127.0.0.1:0", out)

			// 7.17 ships the first lines and records them in its registry.
			fb := startFilebeatFrom(t, filepath.Join(d717, "filebeat"), dir, filepath.Join(d717, "websocket.so"), uc.input(log), outputTo(recv, ""))
			waitFor(t, 2*time.Minute, fmt.Sprintf("%d events from Filebeat 7.17", uc.first), func() bool { return recv.stats(t).Events == int64(uc.first) })
			fb.stop(t)
			logged717 := len(fb.output())

			// The log grows while no Filebeat runs; 9.5 starts on the
			// same data path (the same registry).
			writeLog(t, log, uc.first, uc.total)
			fb = startFilebeatFrom(t, filepath.Join(d95, "filebeat"), dir, filepath.Join(d95, "websocket.so"), uc.input(log), outputTo(recv, ""))
			waitFor(t, 2*time.Minute, fmt.Sprintf("%d events in all after Filebeat 9.5 started", uc.total), func() bool {
				if n := recv.stats(t).Events; n > int64(uc.total) {
					t.Fatalf("the receiver got %d events for %d lines: Filebeat 9.5 sent again what 7.17 had sent", n, uc.total)
				}
				return recv.stats(t).Events == int64(uc.total)
			})
			fb.stop(t)
			recv.stop(t)
			// Every line once, in order: a line sent again would stand
			// out of place.
			wantLines(t, received(t, out), uc.total)
			if log9 := fb.output()[logged717:]; !strings.Contains(log9, uc.want9) {
				t.Errorf("Filebeat 9.5's log does not say %q:\n%s", uc.want9, log9)
			}
		})
	}
}

// A file that 7.17 had read but that is under 1 KiB when 9.5 starts has no
// fingerprint to move its registry entry to: 9.5 reads it from its start
// once it grows past 1 KiB, sending again what 7.17 had sent. With
// file_identity.native, 7.17's identity, on both, 9.5 reads it at once and
// sends nothing again.
func TestLines_UpgradeFrom717To95ResendsAFileUnder1KiBUnlessNativeIdentity(t *testing.T) {
	only95(t)
	d717, d95 := bothDists(t)
	for _, native := range []bool{false, true} {
		t.Run(fmt.Sprintf("file_identity.native=%v", native), func(t *testing.T) {
			dir := t.TempDir()
			log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
			input := inputFor(log)
			if native {
				input += "  file_identity.native: ~\n"
			}
			writeLog(t, log, 0, 3) // about 600 bytes
			recv := startReceiver(t, dir, "127.0.0.1:0", out)
			fb := startFilebeatFrom(t, filepath.Join(d717, "filebeat"), dir, filepath.Join(d717, "websocket.so"), input, outputTo(recv, ""))
			waitFor(t, time.Minute, "3 events from Filebeat 7.17", func() bool { return recv.stats(t).Events == 3 })
			fb.stop(t)

			fb = startFilebeatFrom(t, filepath.Join(d95, "filebeat"), dir, filepath.Join(d95, "websocket.so"), input, outputTo(recv, ""))
			if !native {
				waitFor(t, time.Minute, "Filebeat 9.5's warning that small files are delayed", func() bool {
					return strings.Contains(fb.output(), "ingestion from some files will be delayed")
				})
			}
			writeLog(t, log, 3, 10) // now about 2 KiB
			want := 10
			if !native {
				want = 13 // the first 3 again
			}
			waitFor(t, time.Minute, fmt.Sprintf("%d events in all", want), func() bool {
				if n := recv.stats(t).Events; n > int64(want) {
					t.Fatalf("the receiver got %d events, want %d", n, want)
				}
				return recv.stats(t).Events == int64(want)
			})
			fb.stop(t)
			recv.stop(t)
			got := received(t, out)
			wantLines(t, got[want-10:], 10)
			if native {
				wantLines(t, got, 10)
			}
		})
	}
}

func TestLines_PackagesOf95KeepTheirOwnUpgradePathAndConflictWith717s(t *testing.T) {
	only95(t)
	for _, tool := range []string{"dpkg-deb", "rpm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("reads the packages with %s, which is not installed (./build.sh test installs rpm as root)", tool)
		}
	}
	dir := t.TempDir()
	started := time.Now()
	out, status := runIn(t, root, []string{"DIST=" + dir}, "./build.sh", "package")
	if status != 0 {
		t.Fatalf("BEATS=9.5 ./build.sh package exited %d:\n%s", status, out)
	}
	t.Logf("BEATS=9.5 ./build.sh package: %v", time.Since(started).Round(100*time.Millisecond))
	made := map[string]string{} // what each file is: host.deb, plugin.rpm, ...
	for _, m := range packagedLine.FindAllStringSubmatch(out, -1) {
		path, name := m[1], filepath.Base(m[1])
		if filepath.Dir(path) != filepath.Join(dir, "9.5") {
			t.Errorf("%s is not in DIST/9.5", path)
		}
		switch {
		case strings.HasPrefix(name, "filebeat-ws-9.5_9.5.0-") && strings.HasSuffix(name, "_amd64.deb"):
			made["host.deb"] = path
		case strings.HasPrefix(name, "filebeat-ws-9.5-9.5.0-") && strings.HasSuffix(name, ".x86_64.rpm"):
			made["host.rpm"] = path
		case strings.HasPrefix(name, "filebeat-output-websocket-9.5_") && strings.HasSuffix(name, "_amd64.deb"):
			made["plugin.deb"] = path
		case strings.HasPrefix(name, "filebeat-output-websocket-9.5-") && strings.HasSuffix(name, ".x86_64.rpm"):
			made["plugin.rpm"] = path
		case strings.HasPrefix(name, "websocket-output-") && strings.HasSuffix(name, "-9.5-linux-amd64.tar.gz"):
			made["tarball"] = path
		default:
			t.Errorf("BEATS=9.5 ./build.sh package made %s, which is not a 9.5 line's name", name)
		}
	}
	if len(made) != 5 {
		t.Fatalf("BEATS=9.5 ./build.sh package made %v, want a host and a plugin as deb and rpm, and a tarball:\n%s", made, out)
	}
	abi := capabilityOf(t, filepath.Join(dir, "9.5", "filebeat"))
	if d717, _ := bothDists(t); abi == capabilityOf(t, filepath.Join(d717, "filebeat")) {
		t.Errorf("the 9.5 host provides 7.17's capability %s", abi)
	}
	for _, c := range []struct{ pkg, field, want string }{
		{"host.deb", "Package", "filebeat-ws-9.5"},
		{"host.deb", "Provides", abi + ", filebeat (= 9.5.0)"},
		{"host.deb", "Conflicts", "filebeat, filebeat-ws"},
		{"host.deb", "Replaces", "filebeat, filebeat-ws"},
		{"host.deb", "Recommends", "filebeat-output-websocket-9.5"},
		{"plugin.deb", "Package", "filebeat-output-websocket-9.5"},
		{"plugin.deb", "Pre-Depends", abi},
		{"plugin.deb", "Conflicts", "filebeat-output-websocket"},
		{"plugin.deb", "Replaces", "filebeat-output-websocket"},
	} {
		if got := debField(t, made[c.pkg], c.field); got != c.want {
			t.Errorf("%s: %s: %q, want %q", filepath.Base(made[c.pkg]), c.field, got, c.want)
		}
	}
	rpm := func(args ...string) string {
		out, status := runIn(t, "/", nil, "rpm", args...)
		if status != 0 {
			t.Fatalf("rpm %s exited %d:\n%s", strings.Join(args, " "), status, out)
		}
		return "\n" + out
	}
	for _, want := range []string{"\nfilebeat\n", "\nfilebeat-ws\n"} {
		if got := rpm("-qp", "--conflicts", made["host.rpm"]); !strings.Contains(got, want) {
			t.Errorf("the 9.5 host rpm conflicts with%s, want%s among them", got, want)
		}
	}
	if got := rpm("-qp", "--requires", made["plugin.rpm"]); !strings.Contains(got, "\n"+abi+"\n") {
		t.Errorf("the 9.5 plugin rpm requires%s, want %s among them", got, abi)
	}
	want := "\n/usr/share/doc/filebeat-output-websocket-9.5/BUILDINFO\n/usr/share/doc/filebeat-output-websocket-9.5/filebeat.yml.example\n" +
		"/usr/share/filebeat/plugins/plugincheck\n/usr/share/filebeat/plugins/websocket.so\n"
	if got := rpm("-qpl", made["plugin.rpm"]); got != want {
		t.Errorf("rpm -qpl %s:%s\nwant:%s", filepath.Base(made["plugin.rpm"]), got, want)
	}
}
