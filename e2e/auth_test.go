package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Credentials: the receiver requires a bearer token. Without it, or with a
// wrong one, the handshake is refused: Filebeat logs the HTTP status and
// backs off, nothing is acknowledged (so nothing is lost), and the token
// never shows in Filebeat's log.
func TestAuth_RefusedTokenIsLoggedBackedOffAndNothingLost(t *testing.T) {
	const (
		right       = "tok-3f9a1c0d-right"
		wrong       = "tok-77e0b2aa-wrong"
		window      = 5 * time.Second
		backoffInit = 500 * time.Millisecond
	)
	dir := t.TempDir()
	log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
	writeLog(t, log, 0, scenarioLines)
	recv := startReceiver(t, dir, "127.0.0.1:0", out, "-token", right)
	plugin := filepath.Join(dist, "websocket.so")
	base := fmt.Sprintf("addr: %q\npath: /echo\nbackoff.init: %v\nbackoff.max: 2s\n", recv.addr, backoffInit)
	withToken := base + `headers.Authorization: "Bearer ${WS_TOKEN}"`

	// Filebeat's data folder is the same for every run, so each starts
	// where the last left off: from the first line, as none was acknowledged.
	refused := func(what, output string, env ...string) {
		t.Helper()
		previous, _ := os.ReadFile(filepath.Join(dir, "filebeat.log")) // appended to across runs
		from := len(previous)
		fb := startFilebeatEnv(t, dir, plugin, inputFor(log), output, env...)
		waitFor(t, time.Minute, "a refused handshake", func() bool {
			return strings.Contains(fb.output()[from:], "handshake refused: HTTP 401 Unauthorized")
		})
		before := recv.stats(t).Refused
		time.Sleep(window) // the window in which connection attempts are counted
		attempts := recv.stats(t).Refused - before
		fb.stop(t)
		// Every wait is at least backoff.init, so a window holds at most
		// window/backoff.init + 1 attempts; without backoff, thousands.
		if attempts < 1 || attempts > int64(window/backoffInit)+1 {
			t.Fatalf("%s: %d connection attempts in %v: want backoff", what, attempts, window)
		}
		if n := recv.stats(t).Events; n != 0 {
			t.Fatalf("%s: %d events arrived", what, n)
		}
		line := fb.output()[from:]
		line = line[strings.Index(line, "Failed to connect"):]
		t.Logf("%s: %d attempts in %v; Filebeat logged: %s", what, attempts, window, line[:strings.IndexByte(line, '\n')])
	}
	refused("no token", base)
	refused("wrong token", withToken, "WS_TOKEN="+wrong)

	fb := startFilebeatEnv(t, dir, plugin, inputFor(log), withToken, "WS_TOKEN="+right)
	waitFor(t, time.Minute, "every line at the receiver", func() bool {
		return recv.stats(t).Events >= scenarioLines
	})
	fb.stop(t)
	recv.stop(t)
	wantLines(t, received(t, out), scenarioLines)
	for _, secret := range []string{right, wrong} {
		if strings.Contains(fb.output(), secret) {
			t.Fatalf("Filebeat's log shows a token (%s)", secret)
		}
		if strings.Contains(recv.output(), secret) {
			t.Fatalf("the receiver's log shows a token (%s)", secret)
		}
	}
}

// Basic authentication: username and password, the password from the
// environment, as it would come from Filebeat's keystore.
func TestAuth_BasicAuthenticationShipsAndNeverLogsThePassword(t *testing.T) {
	const password = "pw-5d1e77c3"
	dir := t.TempDir()
	recv := startReceiver(t, dir, "127.0.0.1:0", filepath.Join(dir, "received.log"), "-basic-auth", "filebeat:"+password)
	fb := ships(t, recv, fmt.Sprintf("addr: %q\npath: /echo\nusername: filebeat\npassword: \"${WS_PASSWORD}\"\n", recv.addr),
		"WS_PASSWORD="+password)
	if strings.Contains(fb.output(), password) {
		t.Fatal("Filebeat's log shows the password")
	}
	if s := recv.stats(t); s.Refused != 0 {
		t.Fatalf("%d handshakes refused", s.Refused)
	}
}
