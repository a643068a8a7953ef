package transport

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

// A refused handshake names the HTTP status and says what to check.
func TestConnect_RefusedHandshakeNamesStatusAndWhatToCheck(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   []string
	}{
		{http.StatusUnauthorized, []string{"HTTP 401 Unauthorized", "check the credentials"}},
		{http.StatusForbidden, []string{"HTTP 403 Forbidden", "check the credentials"}},
		{http.StatusNotFound, []string{"HTTP 404 Not Found", "no WebSocket endpoint at this path"}},
		{http.StatusInternalServerError, []string{"HTTP 500 Internal Server Error", "the server failed"}},
		{http.StatusServiceUnavailable, []string{"HTTP 503 Service Unavailable", "the server failed"}},
		{http.StatusOK, []string{"HTTP 200 OK", "not a WebSocket endpoint"}},
		{http.StatusFound, []string{"HTTP 302 Found", "a redirect, which is not followed"}},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			s := wstest.New(t, func(s *wstest.Server) { s.Refuse = tc.status })
			c, _ := newTestClient(t, testOptions(s))
			err := c.Connect()
			if err == nil {
				t.Fatal("connect succeeded against a refusing server")
			}
			want := append([]string{"handshake refused", "ws://" + s.Addr() + "/ws"}, tc.want...)
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// A server that accepts the TCP connection and closes it without an answer
// (not a WebSocket server, or a TLS port that wants a ClientHello) is
// explained, not just reported as EOF.
func TestConnect_ServerClosingWithoutAnswerIsExplained(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	cfg := defaultOptions(ln.Addr().String())
	c, _ := newTestClient(t, cfg)
	err = c.Connect()
	if err == nil || !strings.Contains(err.Error(), "the server closed the connection without answering the handshake") {
		t.Fatalf("connect to a server that closes at once: %v", err)
	}
}
