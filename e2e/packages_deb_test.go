package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testDebLifecycle is an operator's life with the deb packages, step by
// step; a step that fails ends it, but for filebeat test output, which
// does not decide the steps after it.
func testDebLifecycle(t *testing.T, b packageBuilds) {
	t.Cleanup(func() { purgeFilebeat(t) }) // also when a step fails
	dir := t.TempDir()
	log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
	recv := startReceiver(t, dir, "127.0.0.1:0", out)
	v1 := strings.TrimSpace(readFile(t, filepath.Join(b.main.dist, "websocket.so.version")))
	v2 := strings.TrimSpace(readFile(t, filepath.Join(b.upgrade.dist, "websocket.so.version")))

	if !t.Run("dpkg -i installs the host, then the plugin", func(t *testing.T) {
		// The plugin's Pre-Depends needs the host configured, so dpkg
		// takes them one after the other (apt orders them itself).
		mustDpkg(t, "-i", b.main.hostDeb)
		mustDpkg(t, "-i", b.main.pluginDeb)
		for _, c := range []struct{ pkg, deb string }{{"filebeat-ws", b.main.hostDeb}, {"filebeat-output-websocket", b.main.pluginDeb}} {
			if got, want := installedVersion(t, c.pkg), debField(t, c.deb, "Version"); got != want {
				t.Errorf("%s %s is installed, want %s", c.pkg, got, want)
			}
		}
		if !sameFile(t, installedFB, filepath.Join(b.main.dist, "filebeat")) || !sameFile(t, installedSO, filepath.Join(b.main.dist, "websocket.so")) {
			t.Errorf("the installed filebeat or websocket.so is not the build's")
		}
		conffiles, _ := runIn(t, "/", nil, "dpkg-query", "-W", "-f=${Conffiles}", "filebeat-ws")
		for _, want := range []string{installedCfg + " ", "/etc/filebeat/modules.d/nginx.yml.disabled "} {
			if !strings.Contains(conffiles, want) {
				t.Errorf("%sis not a configuration file of filebeat-ws; its conffiles:\n%s", want, conffiles)
			}
		}
		check, status := runIn(t, "/", nil, "/usr/share/filebeat/plugins/plugincheck", installedFB, installedSO)
		if status != 0 || !strings.HasPrefix(check, "compatible:") {
			t.Errorf("the installed plugincheck exited %d:\n%s", status, check)
		}
	}) {
		return
	}

	if !t.Run("the operator points the installed configuration at a log and a server; filebeat test config passes", func(t *testing.T) {
		editFile(t, installedCfg,
			"\n  enabled: false\n", "\n  enabled: true\n",
			"    - /var/log/*.log\n", "    - "+log+"\n",
			`hosts: ["ws://localhost:8080/echo"]`, `hosts: ["ws://`+recv.addr+`/echo"]`)
		got, status := runIn(t, "/", nil, "/usr/bin/filebeat", "test", "config")
		if status != 0 || strings.TrimSpace(got) != "Config OK" {
			t.Fatalf("filebeat test config exited %d:\n%s", status, got)
		}
	}) {
		return
	}

	t.Run("filebeat test output checks the installed configuration's server", func(t *testing.T) {
		got, status := runIn(t, "/", nil, "/usr/bin/filebeat", "test", "output")
		if status != 0 || !strings.Contains(got, recv.addr) || strings.Contains(got, "ERROR") {
			t.Errorf("filebeat test output exited %d, want 0 and a checklist for %s:\n%s", status, recv.addr, got)
		}
	})

	if !t.Run("started as the unit's ExecStart, Filebeat loads the plugin once and ships, logging no ERROR", func(t *testing.T) {
		writeLog(t, log, 0, 1000)
		fb := startUnit(t, unitFile, filepath.Join(dir, "filebeat-1.log"))
		waitForEvents(t, fb, recv, 1000)
		fb.stop(t)
		assertStartedWith(t, fb.output(), v1)
		t.Logf("the installed Filebeat's first lines:\n%s", startupLines(fb.output()))
	}) {
		return
	}

	hostVersion, hostInode := installedVersion(t, "filebeat-ws"), inode(t, installedFB)
	if !t.Run("dpkg -i of a plugin-only build upgrades the plugin under the running Filebeat, not touching the host", func(t *testing.T) {
		writeLog(t, log, 1000, 1250)
		fb := startUnit(t, unitFile, filepath.Join(dir, "filebeat-2.log"))
		waitForEvents(t, fb, recv, 1250)
		got := mustDpkg(t, "-i", b.upgrade.pluginDeb)
		if strings.Contains(got, "filebeat-ws") {
			t.Errorf("upgrading the plugin alone touched the host package:\n%s", got)
		}
		if got, want := installedVersion(t, "filebeat-output-websocket"), debField(t, b.upgrade.pluginDeb, "Version"); got != want {
			t.Errorf("filebeat-output-websocket %s is installed, want %s", got, want)
		}
		if installedVersion(t, "filebeat-ws") != hostVersion || inode(t, installedFB) != hostInode || !sameFile(t, installedFB, filepath.Join(b.main.dist, "filebeat")) {
			t.Errorf("upgrading the plugin changed the host package or its filebeat")
		}
		if !sameFile(t, installedSO, filepath.Join(b.upgrade.dist, "websocket.so")) {
			t.Errorf("%s is not the new build's", installedSO)
		}
		// The running Filebeat keeps the plugin it loaded.
		writeLog(t, log, 1250, 1500)
		waitForEvents(t, fb, recv, 1500)
		fb.stop(t)
		assertStartedWith(t, fb.output(), v1)
	}) {
		return
	}

	if !t.Run("restarted, Filebeat runs the new plugin and goes on where it stopped", func(t *testing.T) {
		writeLog(t, log, 1500, 2000)
		fb := startUnit(t, unitFile, filepath.Join(dir, "filebeat-3.log"))
		waitForEvents(t, fb, recv, 2000)
		assertStartedWith(t, fb.output(), v2)
		fb.stop(t)
	}) {
		return
	}

	if !t.Run("dpkg refuses a plugin built with another gorilla/websocket before unpacking it; the installed pair still works", func(t *testing.T) {
		pluginSum, pluginInode := sha256File(t, installedSO), inode(t, installedSO)
		other := capabilityOf(t, filepath.Join(b.mismatched.dist, "filebeat"))
		got, status := dpkg(t, "-i", b.mismatched.pluginDeb)
		for _, want := range []string{
			"filebeat-output-websocket pre-depends on " + other,
			"pre-dependency problem - not installing filebeat-output-websocket",
		} {
			if status == 0 || !strings.Contains(got, want) {
				t.Errorf("dpkg -i of the mismatched plugin exited %d, want a refusal saying %q:\n%s", status, want, got)
			}
		}
		t.Logf("dpkg's refusal:\n%s", got)
		if sha256File(t, installedSO) != pluginSum || inode(t, installedSO) != pluginInode {
			t.Errorf("the refused package changed %s", installedSO)
		}
		if got, want := installedVersion(t, "filebeat-output-websocket"), debField(t, b.upgrade.pluginDeb, "Version"); got != want {
			t.Errorf("after the refusal filebeat-output-websocket %s is installed, want %s still", got, want)
		}
		if audit, _ := dpkg(t, "--audit"); strings.TrimSpace(audit) != "" {
			t.Errorf("dpkg --audit after the refusal:\n%s", audit)
		}
		writeLog(t, log, 2000, 2500)
		fb := startUnit(t, unitFile, filepath.Join(dir, "filebeat-4.log"))
		waitForEvents(t, fb, recv, 2500)
		assertStartedWith(t, fb.output(), v2)
		fb.stop(t)
	}) {
		return
	}

	t.Run("every line arrived once, in order", func(t *testing.T) {
		recv.stop(t)
		assertLines(t, received(t, out), 0, 2500)
	})

	t.Run("dpkg --purge removes everything", func(t *testing.T) {
		purgeFilebeat(t)
	})
}

// waitForEvents waits until recv has n events, as long as fb runs.
func waitForEvents(t *testing.T, fb *process, recv *receiver, n int) {
	t.Helper()
	waitFor(t, 2*time.Minute, fmt.Sprintf("%d events at the receiver", n), func() bool {
		if !fb.running() {
			t.Fatalf("the installed Filebeat exited (%v):\n%s", fb.err, fb.tail())
		}
		return recv.stats(t).Events >= int64(n)
	})
}

// assertLines fails unless got is exactly the generated lines [from, to).
func assertLines(t *testing.T, got []string, from, to int) {
	t.Helper()
	want := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		want = append(want, line(i))
	}
	if slices.Equal(got, want) {
		return
	}
	first := 0
	for first < len(got) && first < len(want) && got[first] == want[first] {
		first++
	}
	t.Errorf("got %d lines, want lines %d to %d exactly once and in order; the first difference is at position %d", len(got), from, to-1, first)
}
