package transport

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

// A server has nothing to send but acks and control frames, so a message
// over readLimit ends the connection (the next connect starts afresh)
// instead of being buffered; one of exactly readLimit bytes is read and
// ignored.
func TestConn_MessageOverTheReadLimitEndsTheConnection(t *testing.T) {
	for _, typ := range []int{websocket.TextMessage, websocket.BinaryMessage} {
		t.Run(map[int]string{websocket.TextMessage: "text", websocket.BinaryMessage: "binary"}[typ], func(t *testing.T) {
			s := wstest.New(t, nil)
			c, obs := newTestClient(t, testOptions(s))
			mustConnect(t, c)
			ws := s.Conn()
			cn := c.Current()

			s.Send(ws, typ, strings.Repeat("x", readLimit))
			s.Send(ws, typ, strings.Repeat("x", readLimit+1))
			select {
			case <-cn.Done():
			case <-time.After(wait):
				t.Fatal("the connection survived a message over the read limit")
			}
			for _, want := range []string{"server sent a message over the 64 KiB read limit", "read limit exceeded"} {
				if !strings.Contains(cn.Err().Error(), want) {
					t.Fatalf("connection ended with %q, want it to say %q", cn.Err(), want)
				}
			}
			if n := obs.readErrors.Load(); n != 1 {
				t.Fatalf("%d read errors, want 1", n)
			}
			// The message of exactly readLimit bytes was read whole; of the
			// one after it, not a byte.
			if n := obs.readBytes.Load(); n != readLimit {
				t.Fatalf("read %d bytes of messages, want %d", n, readLimit)
			}
		})
	}
}
