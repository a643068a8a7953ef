package transport

import (
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

// The reconnect backoff starts over only after a connection proved healthy:
// the server acknowledged a batch on it, or it stayed up for BackoffMax.
// A handshake proves nothing, and without acks neither does a batch
// written into the socket buffer.

// send writes a batch of n messages on the client's connection as the
// adapter's publisher does. With acks it returns the outcome of its
// acknowledgement (how many events the server holds) on a channel, nil
// without. A write that fails abandons the batch and loses the
// connection; the error says why.
func send(c *Client, n int) (<-chan int, error) {
	cn, err := c.Conn()
	if err != nil {
		return nil, err
	}
	resolved := make(chan int, 1)
	p := &Pending{First: cn.Sent() + 1, PerEvent: true, Events: n, Resolve: func(acked int) { resolved <- acked }}
	for i := 0; i < n; i++ {
		seq, err := cn.Write(websocket.TextMessage, []byte(fmt.Sprintf("event %d", i)))
		if err != nil {
			if cn.Acks() {
				cn.Abandon(p)
			}
			c.Lost(cn)
			return nil, err
		}
		p.Last = seq
	}
	if !cn.Acks() {
		return nil, nil
	}
	cn.Await(p)
	return resolved, nil
}

// mustSend is send that fails the test if the batch cannot be written.
func mustSend(t *testing.T, c *Client, n int) <-chan int {
	t.Helper()
	resolved, err := send(c, n)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	return resolved
}

// dropped waits until the server has dropped the client's connection and
// lets Conn find it so: the client loses it, as the publisher would make
// it.
func dropped(t *testing.T, c *Client) {
	t.Helper()
	waitDead(t, c)
	if _, err := c.Conn(); err == nil {
		t.Fatal("Conn returned a dropped connection")
	}
	if c.Current() != nil {
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
			s := wstest.New(t, func(s *wstest.Server) { s.Ack = ack })
			s.DropNext.Store(1000)
			cfg := testOptions(s)
			cfg.Acks = ack
			cfg.BackoffInit, cfg.BackoffMax = time.Millisecond, time.Hour
			c, _ := newTestClient(t, cfg)

			for i := 0; i < 6; i++ {
				mustConnect(t, c)
				if got := c.backoff.Attempt(); got != float64(i) {
					t.Fatalf("backoff attempt %v after %d connections the server dropped, want %d: the handshakes reset it", got, i, i)
				}
				// A batch written before the drop is seen proves nothing
				// either: without acks it may sit in the socket buffer.
				_, _ = send(c, 3)
				if c.Current() != nil {
					dropped(t, c)
				}
			}
		})
	}
}

func TestConnect_BackoffStartsOverAfterTheServerAcknowledgedABatch(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Ack = true; s.AckEvery = 1 })
	s.DropNext.Store(3)
	cfg := ackTestOptions(s)
	cfg.BackoffInit, cfg.BackoffMax = time.Millisecond, time.Hour
	c, _ := newTestClient(t, cfg)
	for i := 0; i < 3; i++ {
		mustConnect(t, c)
		dropped(t, c)
	}

	mustConnect(t, c)
	ws := s.Conn()
	select {
	case acked := <-mustSend(t, c, 2):
		if acked != 2 {
			t.Fatalf("the server holds %d of 2 events, want both", acked)
		}
	case <-time.After(wait):
		t.Fatal("the batch was never acknowledged")
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
	s := wstest.New(t, nil)
	s.DropNext.Store(3)
	cfg := testOptions(s)
	cfg.BackoffInit, cfg.BackoffMax = time.Millisecond, 200*time.Millisecond
	c, _ := newTestClient(t, cfg)
	for i := 0; i < 3; i++ {
		mustConnect(t, c)
		dropped(t, c)
	}

	mustConnect(t, c)
	ws := s.Conn()
	connected := time.Now()
	mustSend(t, c, 2)
	s.Receive(2)
	time.Sleep(cfg.BackoffMax - time.Since(connected)) // the time under test, not synchronisation
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "")
	if err := ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	dropped(t, c)
	if got := c.backoff.Attempt(); got != 0 {
		t.Fatalf("backoff attempt %v after losing a connection that stayed up for backoff.max, want 0", got)
	}
}
