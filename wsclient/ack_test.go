package wsclient

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/outputs/outest"

	"github.com/beats-websocket/websocket-output/transport"
	"github.com/beats-websocket/websocket-output/transport/protocol"
	"github.com/beats-websocket/websocket-output/transport/wstest"
)

// signalled is a test batch whose signals, which the client's reader
// goroutine may give, arrive on a channel.
type signalled struct {
	*outest.Batch
	ch chan outest.BatchSignal
}

func signalledBatchOf(n int) *signalled {
	b := &signalled{Batch: batchOf(n), ch: make(chan outest.BatchSignal, 10)}
	b.OnSignal = func(sig outest.BatchSignal) { b.ch <- sig }
	return b
}

// signal returns the batch's one signal, waiting for it.
func (b *signalled) signal(t *testing.T) outest.BatchSignal {
	t.Helper()
	select {
	case sig := <-b.ch:
		return sig
	case <-time.After(wait):
		t.Fatal("the batch was never ACKed, retried or cancelled")
		return outest.BatchSignal{}
	}
}

// pending checks that the batch has not been resolved yet: there is no
// event to wait for, so it looks for a short while.
func (b *signalled) pending(t *testing.T) {
	t.Helper()
	select {
	case sig := <-b.ch:
		t.Fatalf("batch resolved (%v with %d events) before the server acknowledged it", sig.Tag, len(sig.Events))
	case <-time.After(100 * time.Millisecond):
	}
}

func ackTestConfig(s *wstest.Server) config {
	cfg := testConfig(s)
	cfg.Ack.Enabled = true
	cfg.Ack.Timeout = 5 * time.Second
	return cfg
}

func publish(t *testing.T, c *Client, b *signalled) {
	t.Helper()
	if err := c.Publish(context.Background(), b); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

func TestAck_BatchIsACKedOnlyWhenTheServerAcknowledgesItsLastMessage(t *testing.T) {
	for _, frame := range []string{frameEvent, frameBatch} {
		t.Run(frame, func(t *testing.T) {
			s := wstest.New(t, func(s *wstest.Server) { s.Ack = true })
			cfg := ackTestConfig(s)
			cfg.Frame = frame
			c, obs := newTestClient(t, cfg)
			mustConnect(t, c)
			ws := s.Conn()

			b := signalledBatchOf(5)
			publish(t, c, b)
			messages := 5
			if frame == frameBatch {
				messages = 1
			}
			s.Receive(messages)
			b.pending(t)
			if messages > 1 {
				s.Send(ws, websocket.TextMessage, fmt.Sprintf(`{"ack":%d}`, messages-1))
				b.pending(t)
			}
			s.Send(ws, websocket.TextMessage, fmt.Sprintf(`{"ack":%d}`, messages))
			if sig := b.signal(t); sig.Tag != outest.BatchACK {
				t.Fatalf("signal %v, want ACK", sig.Tag)
			}
			if obs.acked.Load() != 5 {
				t.Fatalf("observer: %s", obs)
			}
			obs.balanced(t)
		})
	}
}

func TestAck_OneCoalescedAckCoversSeveralBatches(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Ack = true })
	c, obs := newTestClient(t, ackTestConfig(s))
	mustConnect(t, c)
	ws := s.Conn()

	first, second := signalledBatchOf(3), signalledBatchOf(4)
	publish(t, c, first)
	publish(t, c, second)
	s.Receive(7)
	s.Send(ws, websocket.TextMessage, `{"ack":7}`)
	for _, b := range []*signalled{first, second} {
		if sig := b.signal(t); sig.Tag != outest.BatchACK {
			t.Fatalf("signal %v, want ACK", sig.Tag)
		}
	}
	if obs.acked.Load() != 7 {
		t.Fatalf("observer: %s", obs)
	}
	obs.balanced(t)
}

func TestAck_PublishWaitsWhileTwoBatchesAwaitAcknowledgement(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Ack = true })
	cfg := ackTestConfig(s)
	cfg.Frame = frameBatch
	c, _ := newTestClient(t, cfg)
	mustConnect(t, c)
	ws := s.Conn()

	publish(t, c, signalledBatchOf(1))
	publish(t, c, signalledBatchOf(1))
	third := signalledBatchOf(1)
	returned := make(chan error, 1)
	go func() { returned <- c.Publish(context.Background(), third) }()
	select {
	case err := <-returned:
		t.Fatalf("third publish returned (%v) while %d batches awaited acks", err, transport.AckWindow)
	case <-time.After(200 * time.Millisecond):
	}
	if s.Pending() != 2 {
		t.Fatalf("server has %d messages, want 2: the third batch must wait", s.Pending())
	}
	s.Send(ws, websocket.TextMessage, `{"ack":1}`)
	select {
	case err := <-returned:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("publish still waiting after an ack made room")
	}
	s.Receive(3)
}

func TestAck_OverdueAckClosesConnectionAndRetriesUnacknowledgedEvents(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Ack = true })
	cfg := ackTestConfig(s)
	cfg.Ack.Timeout = 300 * time.Millisecond
	cfg.PingInterval = 0 // only the ack deadline can end this connection
	c, obs := newTestClient(t, cfg)
	mustConnect(t, c)
	ws := s.Conn()

	b := signalledBatchOf(5)
	publish(t, c, b)
	s.Receive(5)
	s.Send(ws, websocket.TextMessage, `{"ack":2}`) // then silence
	sig := b.signal(t)
	if sig.Tag != outest.BatchRetryEvents {
		t.Fatalf("signal %v, want RetryEvents", sig.Tag)
	}
	if got := messagesOf(t, sig.Events); strings.Join(got, ",") != "event 2,event 3,event 4" {
		t.Fatalf("retried %q, want the 3 unacknowledged events", got)
	}
	err := waitDead(t, c)
	if err == nil || !strings.Contains(err.Error(), "no acknowledgement within ack.timeout (300ms) for 3 message(s)") {
		t.Fatalf("connection died of %v, want an overdue ack", err)
	}
	if obs.acked.Load() != 2 || obs.failed.Load() != 3 {
		t.Fatalf("observer: %s, want 2 acked and 3 failed", obs)
	}
	obs.balanced(t)

	// The retry goes out on a new connection, which starts counting at 1.
	next := signalledBatchOf(3)
	if err := c.Publish(context.Background(), next); err == nil {
		t.Fatal("publish on the dead connection succeeded")
	}
	if sig := next.signal(t); sig.Tag != outest.BatchCancelled {
		t.Fatalf("signal %v on the dead connection, want Cancelled", sig.Tag)
	}
	mustConnect(t, c)
	ws = s.Conn()
	publish(t, c, next)
	s.Receive(3)
	s.Send(ws, websocket.TextMessage, `{"ack":3}`)
	if sig := next.signal(t); sig.Tag != outest.BatchACK {
		t.Fatalf("signal %v on the new connection, want ACK", sig.Tag)
	}
}

func TestAck_AckBeyondWhatWasSentIsAProtocolError(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Ack = true })
	c, obs := newTestClient(t, ackTestConfig(s))
	mustConnect(t, c)
	ws := s.Conn()

	b := signalledBatchOf(2)
	publish(t, c, b)
	s.Receive(2)
	s.Send(ws, websocket.TextMessage, `{"ack":3}`)
	if sig := b.signal(t); sig.Tag != outest.BatchRetryEvents || len(sig.Events) != 2 {
		t.Fatalf("signal %v with %d events, want both retried", sig.Tag, len(sig.Events))
	}
	err := waitDead(t, c)
	if err == nil || !strings.Contains(err.Error(), "protocol error: server acknowledged 3 messages, only 2 were sent") {
		t.Fatalf("connection died of %v, want a protocol error", err)
	}
	if obs.readErrors.Load() != 1 {
		t.Fatalf("%d read errors, want the protocol error counted", obs.readErrors.Load())
	}
	obs.balanced(t)
}

func TestAck_JunkFromTheServerIsIgnoredWithOneWarning(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Ack = true })
	log, logs := newTestingLogger(t)
	c, obs := newClientWith(t, ackTestConfig(s), log, nil)
	mustConnect(t, c)
	ws := s.Conn()

	b := signalledBatchOf(2)
	publish(t, c, b)
	s.Receive(2)
	junk := []struct {
		typ int
		msg string
	}{
		{websocket.BinaryMessage, `{"ack":2}`},
		{websocket.BinaryMessage, "\x00\xff\xfe"},
		{websocket.TextMessage, "hello"},
		{websocket.TextMessage, `{"ack":"2"}`},
		{websocket.TextMessage, `{"ack":-1}`},
		{websocket.TextMessage, `{"ack":1.5}`},
		{websocket.TextMessage, `{"ack":99999999999999999999999}`},
		{websocket.TextMessage, `{"nack":2}`},
		{websocket.TextMessage, `{"ack":1}{"ack":2}`},
		{websocket.TextMessage, `[2]`},
		{websocket.TextMessage, ""},
		{websocket.TextMessage, strings.Repeat(" ", protocol.MaxAckLen) + `{"ack":2}`},
		{websocket.TextMessage, `{"ack":0}`}, // valid, acknowledges nothing
	}
	for _, j := range junk {
		s.Send(ws, j.typ, j.msg)
	}
	b.pending(t)
	s.Send(ws, websocket.TextMessage, ` {"ack": 2, "note": "fields besides ack are allowed"} `)
	if sig := b.signal(t); sig.Tag != outest.BatchACK {
		t.Fatalf("signal %v, want ACK: the connection must survive junk", sig.Tag)
	}
	warnings := logs.FilterMessageSnippet("Ignored a message from the server").All()
	if len(warnings) != 1 {
		t.Fatalf("%d warnings for %d junk messages within 10s, want 1", len(warnings), len(junk)-1)
	}
	if obs.readErrors.Load() != 0 {
		t.Fatalf("%d read errors for ignorable junk", obs.readErrors.Load())
	}
	obs.balanced(t)
}

func TestAck_BrokenConnectionRetriesEveryUnacknowledgedBatch(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Ack = true })
	c, obs := newTestClient(t, ackTestConfig(s))
	mustConnect(t, c)
	ws := s.Conn()

	first, second := signalledBatchOf(2), signalledBatchOf(3)
	publish(t, c, first)
	publish(t, c, second)
	s.Receive(5)
	s.Send(ws, websocket.TextMessage, `{"ack":1}`)
	ws.Close() // no close frame: the connection just breaks

	sig := first.signal(t)
	if sig.Tag != outest.BatchRetryEvents || strings.Join(messagesOf(t, sig.Events), ",") != "event 1" {
		t.Fatalf("first batch: %v with %d events, want event 1 retried", sig.Tag, len(sig.Events))
	}
	if sig := second.signal(t); sig.Tag != outest.BatchRetryEvents || len(sig.Events) != 3 {
		t.Fatalf("second batch: %v with %d events, want all 3 retried", sig.Tag, len(sig.Events))
	}
	if obs.acked.Load() != 1 || obs.failed.Load() != 4 {
		t.Fatalf("observer: %s, want 1 acked, 4 failed", obs)
	}
	obs.balanced(t)
}

func TestAck_WriteFailureRetriesOnlyWhatTheServerDoesNotHold(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) {
		s.Ack = true
		s.AckEvery = 1
		s.ResetAfter.Store(3)
	})
	cfg := ackTestConfig(s)
	c, obs := newTestClient(t, cfg)
	mustConnect(t, c)

	// Large events, so that writing them outlasts the reset.
	big := strings.Repeat("b", 256<<10)
	events := make([]beat.Event, 40)
	for i := range events {
		events[i] = logEvent(fmt.Sprintf("%02d %s", i, big))
	}
	b := &signalled{Batch: outest.NewBatch(events...), ch: make(chan outest.BatchSignal, 10)}
	b.OnSignal = func(sig outest.BatchSignal) { b.ch <- sig }
	if err := c.Publish(context.Background(), b); err == nil {
		t.Fatal("publish succeeded on a connection the server reset")
	}
	sig := b.signal(t)
	if sig.Tag != outest.BatchRetryEvents {
		t.Fatalf("signal %v, want RetryEvents", sig.Tag)
	}
	// The server acknowledged at most the 3 it read; everything from the
	// first unacknowledged event on comes back, in order.
	retried := messagesOf(t, sig.Events)
	acked := 40 - len(retried)
	if acked > 3 {
		t.Fatalf("%d events counted as held, the server read only 3", acked)
	}
	for i, m := range retried {
		if !strings.HasPrefix(m, fmt.Sprintf("%02d ", acked+i)) {
			t.Fatalf("retried event %d is %.3q, want event %d", i, m, acked+i)
		}
	}
	if obs.acked.Load() != int64(acked) {
		t.Fatalf("observer: %s, want %d acked", obs, acked)
	}
	obs.balanced(t)
}

func TestAck_CloseWaitsBrieflyForOutstandingAcks(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Ack = true })
	c, _ := newTestClient(t, ackTestConfig(s))
	mustConnect(t, c)
	ws := s.Conn()

	b := signalledBatchOf(2)
	publish(t, c, b)
	s.Receive(2)
	go func() {
		time.Sleep(100 * time.Millisecond) // the ack is on its way as Close starts
		s.Send(ws, websocket.TextMessage, `{"ack":2}`)
	}()
	c.Close()
	if sig := b.signal(t); sig.Tag != outest.BatchACK {
		t.Fatalf("signal %v, want ACK: Close must let an ack in flight arrive", sig.Tag)
	}
}
