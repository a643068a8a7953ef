package wsclient

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/outputs/outest"

	"github.com/beats-websocket/websocket-output/encode"
	"github.com/beats-websocket/websocket-output/transport"
	"github.com/beats-websocket/websocket-output/transport/wstest"
)

// Interleavings of a Publish with what ends its connection from another
// goroutine: Close, or the server. Each test holds the publisher between
// two events (pausingEncoder) and, where the window matters, the socket's
// Close (gatedCloseDialer), so that the interleaving happens every run.
//
// With frame: event the publisher writes each event once it has encoded
// the next, and the connection holds messages back until 64 KiB have
// gathered. Events of 40 KiB (bigBatchOf) leave it holding one at a time:
// paused at encoding event k, events 0 to k-3 are on the wire, k-2 waits
// in the connection's buffer and k-1 in the publisher's.

// bigBatchOf is signalledBatchOf with events of 40 KiB, whose messages
// start "event i ".
func bigBatchOf(n int) *signalled {
	events := make([]beat.Event, n)
	for i := range events {
		events[i] = logEvent(fmt.Sprintf("event %d %s", i, strings.Repeat("p", 40<<10)))
	}
	b := &signalled{Batch: outest.NewBatch(events...), ch: make(chan outest.BatchSignal, 10)}
	b.OnSignal = func(sig outest.BatchSignal) { b.ch <- sig }
	return b
}

// pausingEncoder encodes as its inner encoder, but its Append of the event
// at index at (counting across calls) waits for resume, after closing
// paused.
type pausingEncoder struct {
	encode.Encoder
	at     int
	n      int
	paused chan struct{}
	resume chan struct{}
}

func pauseAt(c *Client, at int) *pausingEncoder {
	e := &pausingEncoder{Encoder: c.enc, at: at, paused: make(chan struct{}), resume: make(chan struct{})}
	c.enc = e
	return e
}

func (e *pausingEncoder) Append(dst []byte, ev *beat.Event) ([]byte, error) {
	if e.n == e.at {
		close(e.paused)
		<-e.resume
	}
	e.n++
	return e.Encoder.Append(dst, ev)
}

func (e *pausingEncoder) waitPaused(t *testing.T) {
	t.Helper()
	select {
	case <-e.paused:
	case <-time.After(wait):
		t.Fatal("the publisher never reached the paused event")
	}
}

// gatedClose holds the first Close of the client's socket until released,
// as a slow Close would: whatever runs between closing the socket and what
// follows it gets a window that is open for as long as the test wants.
type gatedClose struct {
	closing chan struct{} // closed when the first Close starts
	release chan struct{} // the first Close waits for it
	once    sync.Once
}

func newGatedClose() *gatedClose {
	return &gatedClose{closing: make(chan struct{}), release: make(chan struct{})}
}

// onSockets makes the client's sockets g's: a change of its options.
func (g *gatedClose) onSockets(o *transport.Options) {
	var d net.Dialer
	o.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &gatedConn{Conn: conn, gate: g}, nil
	}
}

type gatedConn struct {
	net.Conn
	gate *gatedClose
}

func (c *gatedConn) Close() error {
	first := false
	c.gate.once.Do(func() { first = true })
	if first {
		close(c.gate.closing)
		<-c.gate.release
	}
	return c.Conn.Close()
}

func (g *gatedClose) waitClosing(t *testing.T) {
	t.Helper()
	select {
	case <-g.closing:
	case <-time.After(wait):
		t.Fatal("the socket was never closed")
	}
}

func TestAck_CloseDuringPublishNeverACKsWhatTheServerDidNotAcknowledge(t *testing.T) {
	for _, frame := range []string{frameEvent, frameBatch} {
		t.Run(frame, func(t *testing.T) {
			s := wstest.New(t, func(s *wstest.Server) { s.Ack = true }) // acknowledges nothing unless told
			cfg := ackTestConfig(s)
			cfg.Frame = frame
			gate := newGatedClose()
			c, obs := newClientWith(t, cfg, testLogger(t), gate.onSockets)
			mustConnect(t, c)
			enc := pauseAt(c, 4) // frame: event: events 0 and 1 on the wire, 2 and 3 held

			b := bigBatchOf(5)
			published := make(chan error, 1)
			go func() { published <- c.Publish(context.Background(), b) }()
			enc.waitPaused(t)

			// Close answers the close handshake; the socket's Close then
			// hangs, between the connection dying and what comes after.
			closed := make(chan struct{})
			go func() { c.Close(); close(closed) }()
			gate.waitClosing(t)
			close(enc.resume)

			sig := b.signal(t)
			close(gate.release)
			<-closed
			if err := <-published; err == nil {
				t.Fatal("publish succeeded on a connection closed under it")
			}
			if sig.Tag != outest.BatchRetryEvents || len(sig.Events) != 5 {
				t.Fatalf("signal %v with %d events, want all 5 retried: the server acknowledged none", sig.Tag, len(sig.Events))
			}
			if obs.acked.Load() != 0 || obs.failed.Load() != 5 {
				t.Fatalf("observer: %s, want 0 acked, 5 failed", obs)
			}
			obs.balanced(t)
		})
	}
}

// The same with the server acknowledging part of it before Close: exactly
// that part counts as delivered. The server received one event more than
// it acknowledged; of the rest, one was held in the connection's buffer
// (Close discards it), one in the publisher's, two not yet encoded.
func TestAck_CloseDuringPublishACKsExactlyWhatTheServerAcknowledged(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Ack = true })
	gate := newGatedClose()
	c, obs := newClientWith(t, ackTestConfig(s), testLogger(t), gate.onSockets)
	mustConnect(t, c)
	ws := s.Conn()
	enc := pauseAt(c, 5) // events 0 to 2 on the wire, 3 and 4 held

	b := bigBatchOf(7)
	published := make(chan error, 1)
	go func() { published <- c.Publish(context.Background(), b) }()
	enc.waitPaused(t)
	s.Receive(3)
	s.Send(ws, websocket.TextMessage, `{"ack":2}`)
	waitAcked(t, c.conn.Current(), 2)

	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	gate.waitClosing(t)
	close(enc.resume)

	sig := b.signal(t)
	close(gate.release)
	<-closed
	<-published
	got := messagesOf(t, sig.Events)
	if sig.Tag != outest.BatchRetryEvents || len(got) != 5 || !strings.HasPrefix(got[0], "event 2 ") || !strings.HasPrefix(got[4], "event 6 ") {
		t.Fatalf("signal %v with %d events, want events 2 to 6 retried", sig.Tag, len(got))
	}
	if obs.acked.Load() != 2 || obs.failed.Load() != 5 {
		t.Fatalf("observer: %s, want 2 acked, 5 failed", obs)
	}
	if n := s.Pending(); n != 0 {
		t.Fatalf("the server received %d messages more than the 3 on the wire: the held ones were not discarded", n)
	}
	obs.balanced(t)
}

// waitAcked waits until the connection's reader has taken in the server's
// count n.
func waitAcked(t *testing.T, cn *transport.Conn, n uint64) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		acked := cn.Acked()
		if acked >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reader took in ack %d, want %d", acked, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A failure is counted once, where it happened: Close is no error at all,
// and a close frame from the server is a read error, not also a write error
// of the Publish that finds the connection gone.
func TestObserver_EachFailureCountsOnceWhereItHappened(t *testing.T) {
	for _, ack := range []bool{false, true} {
		name := "acks off"
		if ack {
			name = "acks on"
		}
		t.Run(name+"/close during publish", func(t *testing.T) {
			s := wstest.New(t, func(s *wstest.Server) { s.Ack = ack })
			cfg := testConfig(s)
			cfg.Ack.Enabled = ack
			c, obs := newTestClient(t, cfg)
			mustConnect(t, c)
			enc := pauseAt(c, 2)

			published := make(chan error, 1)
			go func() { published <- c.Publish(context.Background(), batchOf(5)) }()
			enc.waitPaused(t)
			c.Close()
			close(enc.resume)
			<-published
			if obs.writeErrors.Load() != 0 || obs.readErrors.Load() != 0 {
				t.Fatalf("%d write errors and %d read errors after a Close, want none", obs.writeErrors.Load(), obs.readErrors.Load())
			}
			obs.balanced(t)
		})
		t.Run(name+"/close in progress during publish", func(t *testing.T) {
			// Close has sent its close frame and waits for the answer,
			// which this server never gives, when the publisher writes.
			s := wstest.New(t, func(s *wstest.Server) { s.Ack = ack; s.NoCloseAnswer = true })
			cfg := testConfig(s)
			cfg.Ack.Enabled = ack
			c, obs := newTestClient(t, cfg)
			mustConnect(t, c)
			enc := pauseAt(c, 2)

			published := make(chan error, 1)
			go func() { published <- c.Publish(context.Background(), batchOf(5)) }()
			enc.waitPaused(t)
			closed := make(chan struct{})
			go func() { c.Close(); close(closed) }()
			if end := s.End(); !websocket.IsCloseError(end, websocket.CloseNormalClosure) {
				t.Fatalf("server saw %v, want the close frame", end)
			}
			close(enc.resume)
			if err := <-published; err == nil {
				t.Fatal("publish succeeded on a connection being closed")
			}
			<-closed
			if obs.writeErrors.Load() != 0 || obs.readErrors.Load() != 0 {
				t.Fatalf("%d write errors and %d read errors while closing, want none", obs.writeErrors.Load(), obs.readErrors.Load())
			}
			obs.balanced(t)
		})
		t.Run(name+"/server close frame during publish", func(t *testing.T) {
			s := wstest.New(t, func(s *wstest.Server) { s.Ack = ack })
			cfg := testConfig(s)
			cfg.Ack.Enabled = ack
			c, obs := newTestClient(t, cfg)
			mustConnect(t, c)
			ws := s.Conn()
			enc := pauseAt(c, 2)

			published := make(chan error, 1)
			go func() { published <- c.Publish(context.Background(), batchOf(5)) }()
			enc.waitPaused(t)
			msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "restarting")
			if err := ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wait)); err != nil {
				t.Fatal(err)
			}
			waitDead(t, c)
			close(enc.resume)
			if err := <-published; err == nil {
				t.Fatal("publish succeeded after the server closed the connection")
			}
			if obs.writeErrors.Load() != 0 || obs.readErrors.Load() != 1 {
				t.Fatalf("%d write errors and %d read errors, want 0 and 1: the close frame is one failure, seen by the reader",
					obs.writeErrors.Load(), obs.readErrors.Load())
			}
			obs.balanced(t)
		})
	}
}
