package receiver

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// Every test must leave no goroutine behind: the receiver's connection
// handlers, ackers and the sink's flusher included.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startAckReceiver serves a receiver with acks on an httptest server; the
// output goes to a file in a temporary folder.
func startAckReceiver(t *testing.T) (*receiver, *sink, string, string) {
	t.Helper()
	return startReceiver(t, options{ack: true, ackInterval: time.Millisecond})
}

// startReceiver serves a receiver with opts on an httptest server.
func startReceiver(t *testing.T, opts options) (*receiver, *sink, string, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.log")
	s, err := openSink(out)
	if err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(s, opts)
	srv := httptest.NewServer(rc)
	t.Cleanup(func() {
		rc.shutdown(time.Second)
		srv.Close()
		s.close()
	})
	return rc, s, "ws" + strings.TrimPrefix(srv.URL, "http"), out
}

func dial(t *testing.T, url string, subprotocols ...string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: subprotocols}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// readAck returns the next ack's count.
func readAck(t *testing.T, ws *websocket.Conn) uint64 {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, msg, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("reading an ack: %v", err)
	}
	n, err := protocol.ParseAck(msg)
	if err != nil || typ != websocket.TextMessage {
		t.Fatalf("server sent %q (type %d), want {\"ack\":N}", msg, typ)
	}
	return n
}

func TestAck_AcknowledgesWhatIsInTheOutputFile(t *testing.T) {
	_, _, url, out := startAckReceiver(t)
	ws := dial(t, url, protocol.Subprotocol)
	if ws.Subprotocol() != protocol.Subprotocol {
		t.Fatalf("subprotocol %q selected", ws.Subprotocol())
	}
	const n = 1000
	for i := 1; i <= n; i++ {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprint("line ", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Acks never decrease and reach n; each covers lines already in the file.
	var last uint64
	for last < n {
		got := readAck(t, ws)
		if got <= last || got > n {
			t.Fatalf("ack %d after %d, for %d messages sent", got, last, n)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if lines := uint64(strings.Count(string(b), "\n")); lines < got {
			t.Fatalf("acknowledged %d messages with %d lines in the output", got, lines)
		}
		last = got
	}
}

func TestAck_NoAcksForAClientThatDidNotAskForThem(t *testing.T) {
	rc, _, url, _ := startAckReceiver(t)
	ws := dial(t, url)
	if err := ws.WriteMessage(websocket.TextMessage, []byte("line")); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, msg, err := ws.ReadMessage(); err == nil {
		t.Fatalf("server sent %q to a client without %s", msg, protocol.Subprotocol)
	}
	if rc.acks.Load() != 0 {
		t.Fatalf("%d acks sent", rc.acks.Load())
	}
}

func TestAck_ShutdownSendsAFinalAckBeforeTheCloseFrame(t *testing.T) {
	rc, _, url, _ := startAckReceiver(t)
	ws := dial(t, url, protocol.Subprotocol)
	if err := ws.WriteMessage(websocket.TextMessage, []byte("line")); err != nil {
		t.Fatal(err)
	}
	if got := readAck(t, ws); got != 1 {
		t.Fatalf("ack %d, want 1", got)
	}
	// Close the client's side once it has the close frame, as a client does.
	go rc.shutdown(5 * time.Second)
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := ws.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("read %v, want the going-away close frame (no second ack: nothing new)", err)
	}
}

func TestSink_DropsTheIncompleteLineACrashLeft(t *testing.T) {
	for _, tc := range []struct{ before, after string }{
		{"", ""},
		{"a\nb\n", "a\nb\n"},
		{"a\nb\npart", "a\nb\n"},
		{"part", ""},
		{"a\n" + strings.Repeat("x", 200<<10), "a\n"}, // longer than one read
	} {
		path := filepath.Join(t.TempDir(), "out.log")
		if err := os.WriteFile(path, []byte(tc.before), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := openSink(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.writeLines([]byte("next")); err != nil {
			t.Fatal(err)
		}
		if err := s.close(); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(path)
		if string(got) != tc.after+"next\n" {
			t.Fatalf("%.20q: file is %.40q, want %.40q", tc.before, got, tc.after+"next\n")
		}
	}
}

func TestAuth_HandshakeWithoutTheRequiredCredentialsIsRefusedWith401(t *testing.T) {
	basic := func(user, pass string) http.Header {
		r := &http.Request{Header: http.Header{}}
		r.SetBasicAuth(user, pass)
		return r.Header
	}
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	for _, tc := range []struct {
		name   string
		opts   options
		header http.Header
		ok     bool
	}{
		{"no token", options{token: "t0k"}, nil, false},
		{"wrong token", options{token: "t0k"}, bearer("t0kx"), false},
		{"token as basic", options{token: "t0k"}, basic("t0k", ""), false},
		{"right token", options{token: "t0k"}, bearer("t0k"), true},
		{"no basic", options{basicAuth: "alice:pw"}, nil, false},
		{"wrong password", options{basicAuth: "alice:pw"}, basic("alice", "px"), false},
		{"right basic", options{basicAuth: "alice:pw"}, basic("alice", "pw"), true},
	} {
		rc, _, url, _ := startReceiver(t, tc.opts)
		ws, resp, err := websocket.DefaultDialer.Dial(url, tc.header)
		if tc.ok {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			ws.Close()
			continue
		}
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %v, %v; want 401 with a challenge", tc.name, err, resp)
		}
		if rc.refused.Load() != 1 {
			t.Errorf("%s: %d refusals counted", tc.name, rc.refused.Load())
		}
	}
}

func TestCompression_CountsConnectionsThatNegotiatedIt(t *testing.T) {
	rc, _, url, _ := startReceiver(t, options{compression: true})
	for _, compress := range []bool{true, false} {
		d := websocket.Dialer{EnableCompression: compress}
		ws, _, err := d.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		ws.Close()
	}
	// The server counts a connection after its answer has gone out.
	waitUntil(t, func() bool { return rc.connections.Load() == 2 })
	if n := rc.compressed.Load(); n != 1 {
		t.Fatalf("%d connections counted as compressed, want 1", n)
	}
}

func TestCloseEvery_EndsEachConnectionWithTheCodeAndTakesNothingAfter(t *testing.T) {
	rc, s, url, out := startReceiver(t, options{closeEvery: 3, closeCode: websocket.ClosePolicyViolation})
	for conn := 1; conn <= 2; conn++ {
		ws := dial(t, url)
		for i := 1; i <= 5; i++ {
			// Writes after the close frame may still succeed: TCP takes them.
			_ = ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf("conn %d line %d", conn, i)))
		}
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := ws.ReadMessage()
		if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
			t.Fatalf("connection %d: read %v, want a close frame with status 1008", conn, err)
		}
	}
	waitUntil(t, func() bool { return rc.stats().Closes == 2 && rc.stats().Active == 0 })
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "conn 1 line 1\nconn 1 line 2\nconn 1 line 3\nconn 2 line 1\nconn 2 line 2\nconn 2 line 3\n"
	if string(b) != want {
		t.Fatalf("output is\n%s\nwant the first 3 messages of each connection:\n%s", b, want)
	}
}

// waitUntil polls cond for at most 10 seconds.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCheck_CountsInvalidUTF8TextMessagesAndLinesThatAreNotJSON(t *testing.T) {
	for _, tc := range []struct {
		name       string
		typ        int
		msg        string
		utf8, json int64
	}{
		{"an event", websocket.TextMessage, `{"message":"ż日🎉 \u0000"}`, 0, 0},
		{"a batch", websocket.TextMessage, "{\"a\":1}\n[2]\n\"s\"\n", 0, 0},
		{"invalid UTF-8 in a text message", websocket.TextMessage, "{\"message\":\"\xff\"}", 1, 0},
		{"invalid UTF-8 in a binary message", websocket.BinaryMessage, "{\"message\":\"\xff\"}", 0, 0},
		{"not JSON", websocket.TextMessage, `{"message":"cut`, 0, 1},
		{"an empty message", websocket.BinaryMessage, "", 0, 1},
		{"a raw NUL byte in a string", websocket.TextMessage, "{\"message\":\"\x00\"}", 0, 1},
		{"two bad lines in a batch", websocket.TextMessage, "{\"a\":1}\nnot json\n{\"b\":\n[3]\n", 0, 2},
		{"an empty line in a batch", websocket.TextMessage, "{\"a\":1}\n\n", 0, 1},
		{"both", websocket.TextMessage, "\xc3\x28\n{}\n", 1, 1},
	} {
		rc, _, url, _ := startReceiver(t, options{})
		ws := dial(t, url)
		if err := ws.WriteMessage(tc.typ, []byte(tc.msg)); err != nil {
			t.Fatal(err)
		}
		// A second, valid message: once it is counted, so is the first.
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for rc.messages.Load() < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d messages received, want 2", tc.name, rc.messages.Load())
			}
			time.Sleep(5 * time.Millisecond)
		}
		s := rc.stats()
		if s.InvalidUTF8 != tc.utf8 || s.InvalidJSON != tc.json {
			t.Errorf("%s: counted %d invalid UTF-8, %d invalid JSON; want %d, %d", tc.name, s.InvalidUTF8, s.InvalidJSON, tc.utf8, tc.json)
		}
	}
}

// Run writes the address it listens on to the address file, where the tests
// and the benchmark learn the port when it was 0, and stops when its
// context ends.
func TestRun_WritesTheAddressItListensOnAndStopsWithItsContext(t *testing.T) {
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "addr")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Listen: "127.0.0.1:0", Path: "/echo", Out: filepath.Join(dir, "out.log"), AddrFile: addrFile, Drain: time.Second})
	}()
	var addr string
	waitUntil(t, func() bool {
		b, err := os.ReadFile(addrFile)
		addr = strings.TrimSpace(string(b))
		return err == nil
	})
	ws := dial(t, "ws://"+addr+"/echo")
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"message":"x"}`)); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop when its context ended")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out.log")); string(b) != "{\"message\":\"x\"}\n" {
		t.Fatalf("output %q", b)
	}
}

// With -ack-interval 0 every message gets its own ack, sent once the
// message is in the output file: the server that acknowledges each message
// the benchmark measures the client against.
func TestAck_IntervalZeroAcknowledgesEveryMessage(t *testing.T) {
	rc, _, url, out := startReceiver(t, options{ack: true})
	ws := dial(t, url, protocol.Subprotocol)
	const n = 200
	for i := 1; i <= n; i++ {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprint("line ", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := uint64(1); i <= n; i++ {
		if got := readAck(t, ws); got != i {
			t.Fatalf("ack %d, want %d: one ack per message, in order", got, i)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(b), "\n"); lines != n || rc.acks.Load() != n {
		t.Fatalf("%d lines in the output and %d acks sent, want %d each", lines, rc.acks.Load(), n)
	}
}
