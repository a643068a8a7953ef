package wsclient

import (
	"context"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/elastic/beats/v7/libbeat/outputs/outest"
)

// The reconnect backoff starts over only after a connection proved healthy:
// the server acknowledged a batch on it, or it stayed up for backoff.max.
// A handshake proves nothing, and without acks neither does a batch
// written into the socket buffer.

// dropped waits until the server has dropped the client's connection and
// lets a Publish find it so: the client loses it, as libbeat's worker
// would make it.
func dropped(t *testing.T, c *Client) {
	t.Helper()
	waitDead(t, c)
	batch := batchOf(1)
	if err := c.Publish(context.Background(), batch); err == nil {
		t.Fatal("publish on a dropped connection succeeded")
	}
	if c.current() != nil {
		t.Fatal("dropped connection kept")
	}
}

func TestConnect_BackoffKeepsGrowingAgainstAServerThatDropsEveryConnection(t *testing.T) {
	for _, ack := range []bool{false, true} {
		name := "acks off"
		if ack {
			name = "acks on"
		}
		t.Run(name, func(t *testing.T) {
			s := newTestServer(t, func(s *testServer) { s.ack = ack })
			s.dropNext.Store(1000)
			cfg := testConfig(s)
			cfg.Ack.Enabled = ack
			cfg.Backoff = backoffConfig{Init: time.Millisecond, Max: time.Hour}
			c, _ := newTestClient(t, cfg)

			for i := 0; i < 6; i++ {
				mustConnect(t, c)
				if got := c.backoff.Attempt(); got != float64(i) {
					t.Fatalf("backoff attempt %v after %d connections the server dropped, want %d: the handshakes reset it", got, i, i)
				}
				// A batch written before the drop is seen proves nothing
				// either: without acks it may sit in the socket buffer.
				_ = c.Publish(context.Background(), batchOf(3))
				if c.current() != nil {
					dropped(t, c)
				}
			}
		})
	}
}

func TestConnect_BackoffStartsOverAfterTheServerAcknowledgedABatch(t *testing.T) {
	s := newTestServer(t, func(s *testServer) { s.ack = true; s.ackEvery = 1 })
	s.dropNext.Store(3)
	cfg := ackTestConfig(s)
	cfg.Backoff = backoffConfig{Init: time.Millisecond, Max: time.Hour}
	c, _ := newTestClient(t, cfg)
	for i := 0; i < 3; i++ {
		mustConnect(t, c)
		dropped(t, c)
	}

	mustConnect(t, c)
	ws := s.conn()
	b := signalledBatchOf(2)
	publish(t, c, b)
	if sig := b.signal(t); sig.Tag != outest.BatchACK {
		t.Fatalf("signal %v, want ACK", sig.Tag)
	}
	if got := c.backoff.Attempt(); got != 3 {
		t.Fatalf("backoff attempt %v on the fourth connection, want 3", got)
	}
	ws.Close()
	dropped(t, c)
	if got := c.backoff.Attempt(); got != 0 {
		t.Fatalf("backoff attempt %v after losing a connection that delivered a batch, want 0", got)
	}
}

func TestConnect_BackoffStartsOverAfterAConnectionStayedUpForBackoffMax(t *testing.T) {
	s := newTestServer(t, nil)
	s.dropNext.Store(3)
	cfg := testConfig(s)
	cfg.Backoff = backoffConfig{Init: time.Millisecond, Max: 200 * time.Millisecond}
	c, _ := newTestClient(t, cfg)
	for i := 0; i < 3; i++ {
		mustConnect(t, c)
		dropped(t, c)
	}

	mustConnect(t, c)
	ws := s.conn()
	connected := time.Now()
	if err := c.Publish(context.Background(), batchOf(2)); err != nil {
		t.Fatal(err)
	}
	s.receive(2)
	time.Sleep(cfg.Backoff.Max - time.Since(connected)) // the time under test, not synchronisation
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "")
	if err := ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	dropped(t, c)
	if got := c.backoff.Attempt(); got != 0 {
		t.Fatalf("backoff attempt %v after losing a connection that stayed up for backoff.max, want 0", got)
	}
}
