package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The architectures (docs/arm64.md): the suite runs against this machine's
// build by default, and with ARCH=arm64 against the line's arm64 build,
// dist/arm64/, its binaries under qemu-user, as ./build.sh test does for
// the tests it names in E2E_CROSS. The receiver stays this machine's. The
// tests here are small, as emulation is slow; those that cross the
// architectures run only then.

// testArch is the architecture under test: ARCH, this machine's when unset.
func testArch() string {
	switch arch := os.Getenv("ARCH"); arch {
	case "":
		return runtime.GOARCH
	case "amd64", "arm64":
		return arch
	default:
		panic(fmt.Sprintf("e2e: ARCH=%s: the tests run against one architecture, amd64 or arm64", arch))
	}
}

// archDist is where build.sh puts arch's build of the line whose amd64
// build is in folder: folder itself for amd64, folder/arm64 for arm64.
func archDist(folder, arch string) string {
	if arch == "amd64" {
		return folder
	}
	return filepath.Join(folder, arch)
}

// buildArchs is the ARCH that TestMain builds with: the architecture under
// test, and this machine's too for the receiver.
func buildArchs() string {
	if testArch() == runtime.GOARCH {
		return testArch()
	}
	return "all"
}

// onlyCross skips a test that crosses the architectures outside a run on
// another architecture than this machine's, so that ./build.sh test runs
// it once, with both built.
func onlyCross(t *testing.T) {
	t.Helper()
	if testArch() == runtime.GOARCH {
		t.Skipf("crosses the architectures: runs with ARCH=%s", otherArch())
	}
}

func otherArch() string {
	if runtime.GOARCH == "arm64" {
		return "amd64"
	}
	return "arm64"
}

// archLines is how many lines the tests here ship: enough for several
// batches and acks in flight, few enough for an emulated Filebeat.
const archLines = 20000

func TestArch_DeliversEveryLineInOrderWithAcks(t *testing.T) {
	dir := t.TempDir()
	log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
	writeLog(t, log, 0, archLines)
	recv := startReceiver(t, dir, "127.0.0.1:0", out, "-ack")
	start := time.Now()
	fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), inputFor(log), outputTo(recv, "ack.enabled: true"))

	waitFor(t, 3*time.Minute, fmt.Sprintf("%d events at the receiver", archLines), func() bool {
		if !fb.running() {
			t.Fatalf("Filebeat exited (%v):\n%s", fb.err, fb.tail())
		}
		n := recv.stats(t).Events
		if n > archLines {
			t.Fatalf("receiver got %d events for %d lines", n, archLines)
		}
		return n == archLines
	})
	elapsed := time.Since(start)
	var st outputStats
	waitFor(t, 30*time.Second, "Filebeat's output metrics to show every event acked", func() bool {
		st = fb.outputStats(t)
		return st.Events.Acked >= archLines
	})
	if st.Events.Acked != archLines || st.Events.Failed != 0 || st.Events.Dropped != 0 || st.Write.Errors != 0 {
		t.Fatalf("output metrics: %+v", st)
	}
	fb.stop(t)
	recv.stop(t)
	got := received(t, out)
	wantLines(t, got, archLines)
	t.Logf("linux/%s: %d lines in order at the receiver in %v from Filebeat's start (%.0f lines/s), all acked, 0 lost, 0 duplicates",
		testArch(), archLines, elapsed.Round(time.Millisecond), archLines/elapsed.Seconds())
}

func TestArch_PluginOfAnotherArchitectureIsRefusedByPlugincheckAndByFilebeat(t *testing.T) {
	onlyCross(t)
	native, other := receiverDist, dist
	hostArch, otherArch := "linux/"+runtime.GOARCH, "linux/"+testArch()
	for _, c := range []struct {
		name, checker, host, plugin, want, fix string
	}{
		{"this machine's plugincheck and filebeat, the other's plugin", filepath.Join(native, "plugincheck"),
			filepath.Join(native, "filebeat"), filepath.Join(other, "websocket.so"),
			"incompatible: websocket.so is built for " + otherArch + ", filebeat for " + hostArch + ":\n",
			"Fix: use the websocket.so built for " + hostArch},
		{"the other's plugincheck and filebeat, emulated, this machine's plugin", filepath.Join(other, "plugincheck"),
			filepath.Join(other, "filebeat"), filepath.Join(native, "websocket.so"),
			"incompatible: websocket.so is built for " + hostArch + ", filebeat for " + otherArch + ":\n",
			"Fix: use the websocket.so built for " + otherArch},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, status := runIn(t, root, nil, c.checker, c.host, c.plugin)
			// The architecture alone, not the settings that follow from it.
			if status != 1 || !strings.HasPrefix(out, c.want) || strings.Contains(out, "build setting") {
				t.Fatalf("plugincheck exited %d, want 1 and a report that starts %q and names no build setting:\n%s", status, c.want, out)
			}
			if !strings.Contains(out, c.fix) {
				t.Errorf("the report does not say which plugin to use:\n%s", out)
			}
			// The package manager's guard: no capability for the pair.
			capOut, capStatus := runIn(t, root, nil, c.checker, "-capability", c.host, c.plugin)
			if capStatus != 1 || strings.Contains(capOut, capabilityPrefixForTest) {
				t.Errorf("plugincheck -capability exited %d, want 1 and no capability:\n%s", capStatus, capOut)
			}

			// Filebeat itself cannot load it either.
			dir := t.TempDir()
			log := filepath.Join(dir, "app.log")
			writeLog(t, log, 0, 1)
			fb := startFilebeatFrom(t, c.host, dir, c.plugin, inputFor(log), "addr: 127.0.0.1:9")
			if err := fb.wait(t, 2*time.Minute); err == nil {
				t.Fatalf("%s loaded %s and exited cleanly:\n%s", c.host, c.plugin, fb.tail())
			}
			if !strings.Contains(fb.output(), "Exiting: plugin.Open(\""+c.plugin+"\")") {
				t.Fatalf("Filebeat's error is not that it could not open the plugin:\n%s", fb.tail())
			}
			t.Logf("Filebeat: %s", firstLineWith(fb.output(), "plugin.Open"))
		})
	}
}

// capabilityPrefixForTest is how plugincheck's capability names start
// (cmd/plugincheck/capability.go).
const capabilityPrefixForTest = "filebeat-plugin-abi-"

func firstLineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// The other architecture's packages, as ./build.sh package makes them
// with ARCH: its name in the file names and the metadata (deb: arm64, rpm:
// aarch64), and the same guard as this machine's: the plugin requires the
// capability its host provides, which is not this machine's Filebeat's.
func TestArch_PackagesAndTarballNameTheArchitecture(t *testing.T) {
	onlyCross(t)
	if beatsLine() != "7.17" {
		t.Skip("the 7.17 line's packages: each line's arm64 packages are made alike (./build.sh package with ARCH)")
	}
	for _, program := range []string{"dpkg", "dpkg-deb", "rpm", "sha512sum"} {
		if _, err := exec.LookPath(program); err != nil {
			t.Fatalf("the package tests need %s: apt-get install dpkg rpm coreutils (.ci/run and ./build.sh test install rpm)", program)
		}
	}
	debArch, rpmArch := map[string]string{"amd64": "amd64", "arm64": "arm64"}[testArch()], map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[testArch()]
	b := buildPackages(t, root, filepath.Join(t.TempDir(), "dist"), []string{"ARCH=" + testArch(), "BEATS=7.17"}, "package")
	pkgDist := archDist(b.dist, testArch())

	for _, c := range []struct{ file, suffix string }{
		{b.hostDeb, "_" + debArch + ".deb"}, {b.pluginDeb, "_" + debArch + ".deb"},
		{b.hostRPM, "." + rpmArch + ".rpm"}, {b.pluginRPM, "." + rpmArch + ".rpm"},
		{b.tarball, "-linux-" + testArch() + ".tar.gz"},
	} {
		if filepath.Dir(c.file) != pkgDist || !strings.HasSuffix(c.file, c.suffix) {
			t.Errorf("%s: want it in %s, its name ending %s", c.file, pkgDist, c.suffix)
		}
		if out, status := runIn(t, filepath.Dir(c.file), nil, "sha512sum", "-c", filepath.Base(c.file)+".sha512"); status != 0 {
			t.Errorf("sha512sum -c %s.sha512 exited %d:\n%s", c.file, status, out)
		}
	}
	for _, deb := range []string{b.hostDeb, b.pluginDeb} {
		if got := debField(t, deb, "Architecture"); got != debArch {
			t.Errorf("%s: Architecture %q, want %q", filepath.Base(deb), got, debArch)
		}
	}
	for _, rpm := range []string{b.hostRPM, b.pluginRPM} {
		if got, _ := runIn(t, "/", nil, "rpm", "-qp", "--qf", "%{ARCH}", rpm); got != rpmArch {
			t.Errorf("%s: rpm's ARCH %q, want %q", filepath.Base(rpm), got, rpmArch)
		}
	}

	// The guard: the plugin requires its host's capability, which differs
	// from this machine's Filebeat's.
	abi := capabilityOf(t, filepath.Join(pkgDist, "filebeat"))
	native := capabilityOf(t, filepath.Join(receiverDist, "filebeat"))
	if abi == native {
		t.Fatalf("the %s Filebeat has this machine's capability %s", testArch(), abi)
	}
	if got := debField(t, b.pluginDeb, "Pre-Depends"); got != abi {
		t.Errorf("the plugin deb's Pre-Depends %q, want its host's capability %q", got, abi)
	}
	if got := debField(t, b.hostDeb, "Provides"); !strings.HasPrefix(got, abi+", ") {
		t.Errorf("the host deb's Provides %q, want its capability %q first", got, abi)
	}
	if out, _ := runIn(t, "/", nil, "rpm", "-qp", "--requires", b.pluginRPM); !strings.Contains(out, abi) {
		t.Errorf("the plugin rpm does not require %s:\n%s", abi, out)
	}
	if out, _ := runIn(t, "/", nil, "rpm", "-qp", "--provides", b.hostRPM); !strings.Contains(out, abi) {
		t.Errorf("the host rpm does not provide %s:\n%s", abi, out)
	}
	// dpkg refuses it on this machine, for its architecture, before the
	// capability comes into it; nothing is installed.
	out, status := dpkg(t, "--dry-run", "-i", b.pluginDeb)
	if status == 0 || !strings.Contains(out, "package architecture ("+debArch+") does not match system") {
		t.Errorf("dpkg --dry-run -i %s exited %d, want a refusal for its architecture:\n%s", filepath.Base(b.pluginDeb), status, out)
	}
}
