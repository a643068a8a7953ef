package wsclient

import (
	"context"
	"strings"
	"testing"

	"github.com/elastic/beats/v7/libbeat/outputs/outest"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

// receivedAll closes the client and returns every message the server got on
// the connection, in order: Close waits for the server's answer to its
// close frame, which comes after everything sent before it.
func receivedAll(t *testing.T, c *Client, s interface {
	End() error
	Pending() int
	Receive(int) []string
}) []string {
	t.Helper()
	c.Close()
	s.End()
	return s.Receive(s.Pending())
}

// An event that encodes to nothing (codec.format of an empty message) is
// still an event: frame: event sends it as an empty message. The encoding
// of one may be nil, which must not read as "no message held".
func TestPublish_AnEmptyFirstEventIsSentNotSkipped(t *testing.T) {
	s := wstest.New(t, nil)
	cfg := testConfig(s)
	cfg.Codec = codecConfig(t, "format.string: '%{[message]}'")
	c, obs := newTestClient(t, cfg)
	mustConnect(t, c)

	batch := outest.NewBatch(logEvent(""), logEvent("b"))
	if err := c.Publish(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	got := receivedAll(t, c, s)
	if strings.Join(got, "|") != "|b" {
		t.Fatalf("server received %q, want [\"\" \"b\"]; batch signalled %v, observer %s", got, onlySignal(t, batch).Tag, obs)
	}
}

// After a one-event batch the spare buffer is still nil, and an empty
// event after another must not leave that other held by WriteMore, never
// written with Write, while the batch is ACKed.
func TestPublish_AnEmptyLastEventDoesNotLeaveThePreviousOneHeld(t *testing.T) {
	s := wstest.New(t, nil)
	cfg := testConfig(s)
	cfg.Codec = codecConfig(t, "format.string: '%{[message]}'")
	c, obs := newTestClient(t, cfg)
	mustConnect(t, c)

	if err := c.Publish(context.Background(), outest.NewBatch(logEvent("a"))); err != nil {
		t.Fatal(err)
	}
	batch := outest.NewBatch(logEvent("b"), logEvent(""))
	if err := c.Publish(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	got := receivedAll(t, c, s)
	if strings.Join(got, "|") != "a|b|" {
		t.Fatalf("server received %q, want [\"a\" \"b\" \"\"]; batch signalled %v, observer %s", got, onlySignal(t, batch).Tag, obs)
	}
}

// With acks, a batch with an empty event is ACKed only once the server
// has received and acknowledged every message, the empty one included.
func TestAck_ABatchWithAnEmptyEventIsACKedOnceEveryMessageIsAcknowledged(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Ack = true; s.AckEvery = 1 })
	cfg := ackTestConfig(s)
	cfg.Codec = codecConfig(t, "format.string: '%{[message]}'")
	c, obs := newTestClient(t, cfg)
	mustConnect(t, c)

	b := &signalled{Batch: outest.NewBatch(logEvent(""), logEvent("b")), ch: make(chan outest.BatchSignal, 10)}
	b.OnSignal = func(sig outest.BatchSignal) { b.ch <- sig }
	publish(t, c, b)
	sig := b.signal(t)
	got := receivedAll(t, c, s)
	if sig.Tag != outest.BatchACK || strings.Join(got, "|") != "|b" {
		t.Fatalf("batch signalled %v, the server received %q, want it ACKed after receiving [\"\" \"b\"]; observer %s", sig.Tag, got, obs)
	}
}
