package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The scenarios of the connection settings (TLS, credentials, proxies,
// compression): Filebeat ships a small log to a receiver through whatever
// stands between them, or fails to connect in a way the user can act on.

const scenarioLines = 2000

// ships runs Filebeat with output on a fresh log of scenarioLines lines
// until the receiver has every one, checks they arrived in order and
// unchanged, and stops Filebeat. It returns Filebeat, for its log.
func ships(t *testing.T, recv *receiver, output string, env ...string) *filebeat {
	t.Helper()
	before := recv.stats(t).Events
	fb := startOnFreshLog(t, output, env...)
	waitFor(t, time.Minute, fmt.Sprintf("%d events at the receiver", scenarioLines), func() bool {
		if !fb.running() {
			t.Fatalf("filebeat exited: %v; its log:\n%s", fb.err, fb.tail())
		}
		return recv.stats(t).Events-before >= scenarioLines
	})
	fb.stop(t)
	// The receiver flushes its output every 100ms.
	waitFor(t, 10*time.Second, "the receiver's output to have every line", func() bool {
		b, _ := os.ReadFile(recv.out)
		return bytes.Count(b, []byte{'\n'}) >= int(before)+scenarioLines && bytes.HasSuffix(b, []byte{'\n'})
	})
	got := received(t, recv.out)
	if len(got) != int(before)+scenarioLines {
		t.Fatalf("the receiver has %d lines, want %d", len(got), int(before)+scenarioLines)
	}
	wantLines(t, got[before:], scenarioLines)
	if s := recv.stats(t); s.InvalidUTF8 != 0 || s.InvalidJSON != 0 {
		t.Fatalf("the receiver got %d text messages that are not UTF-8, %d events that are not JSON", s.InvalidUTF8, s.InvalidJSON)
	}
	return fb
}

// startOnFreshLog starts Filebeat with output on a new log of
// scenarioLines lines, its data in a new folder.
func startOnFreshLog(t *testing.T, output string, env ...string) *filebeat {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	writeLog(t, log, 0, scenarioLines)
	return startFilebeatEnv(t, dir, filepath.Join(dist, "websocket.so"), inputFor(log), output, env...)
}

// wantLines checks that got is the first n lines of a generated log, in
// order and unchanged.
func wantLines(t *testing.T, got []string, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("received %d lines, want %d", len(got), n)
	}
	for i, msg := range got {
		if want := line(i); msg != want {
			t.Fatalf("message %d is\n%q, want\n%q", i, msg, want)
		}
	}
}

// failsToConnect runs Filebeat with output until its log shows a failed
// connection with every one of want, checks that nothing arrived, and
// stops Filebeat. It returns Filebeat, for its log.
func failsToConnect(t *testing.T, recv *receiver, output string, want ...string) *filebeat {
	t.Helper()
	before := recv.stats(t).Events
	fb := startOnFreshLog(t, output)
	var failure string
	waitFor(t, time.Minute, fmt.Sprintf("a failed connection with %q in Filebeat's log", want), func() bool {
		for _, l := range strings.Split(fb.output(), "\n") {
			if strings.Contains(l, "Failed to connect") && containsAll(l, want) {
				failure = l
				return true
			}
		}
		return false
	})
	t.Logf("Filebeat logged: %s", failure[strings.Index(failure, "Failed to connect"):])
	fb.stop(t)
	if n := recv.stats(t).Events - before; n != 0 {
		t.Fatalf("%d events arrived although the connection failed", n)
	}
	return fb
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
