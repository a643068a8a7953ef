package transport

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

// A server that answers nothing (no pongs, no acks) is declared dead
// within ping_timeout (+10 ms) of when a pong was due, also when a batch
// starts waiting for its ack just before: Await moves the ack deadline, it
// is no sign of the server's life (it once pushed the pong deadline on by
// ping_interval + ping_timeout).
func TestLiveness_AwaitDoesNotPostponeTheVerdictOnASilentServer(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Ack = true; s.IgnorePing = true })
	opts := ackTestOptions(s)
	opts.PingInterval = 200 * time.Millisecond
	opts.PingTimeout = 200 * time.Millisecond
	opts.AckTimeout = 5 * time.Second
	c, _ := newTestClient(t, opts)
	mustConnect(t, c)
	cn := c.Current()
	start := time.Now()
	// The first ping goes at 200 ms; its pong is due at 400 ms; the
	// reader's deadline is 410 ms after it started.
	time.Sleep(330 * time.Millisecond)
	seq, err := cn.Write(websocket.BinaryMessage, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	cn.Await(&Pending{First: seq, Last: seq, Events: 1, Resolve: func(int) {}})
	select {
	case <-cn.Done():
	case <-time.After(wait):
		t.Fatal("never declared dead")
	}
	took := time.Since(start)
	if !strings.Contains(cn.Err().Error(), "no pong") || took > 600*time.Millisecond {
		t.Fatalf("declared dead after %v (%v); a pong was due at 400 ms, want dead by 410 ms (+ scheduling)", took, cn.Err())
	}
}
