package wsclient

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/outputs/outest"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

func batchConfig(s *wstest.Server) config {
	cfg := testConfig(s)
	cfg.Frame = frameBatch
	return cfg
}

func TestPublish_BatchFrameSendsOneMessageOfNewlineTerminatedEvents(t *testing.T) {
	s := wstest.New(t, nil)
	c, obs := newTestClient(t, batchConfig(s))
	mustConnect(t, c)

	batch := batchOf(100)
	if err := c.Publish(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if sig := onlySignal(t, batch); sig.Tag != outest.BatchACK {
		t.Fatalf("signal %v, want ACK", sig.Tag)
	}
	msg := s.Receive(1)[0]
	if !strings.HasSuffix(msg, "\n") {
		t.Fatal("a batch message must end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(msg, "\n"), "\n")
	if len(lines) != 100 {
		t.Fatalf("%d events in the message, want 100", len(lines))
	}
	for i, l := range lines {
		if got, want := messageOf(t, l), fmt.Sprintf("event %d", i); got != want {
			t.Fatalf("event %d is %q, want %q", i, got, want)
		}
	}
	if s.Pending() != 0 {
		t.Fatalf("%d more messages, want the batch in one", s.Pending())
	}
	if obs.acked.Load() != 100 || obs.writeBytes.Load() != int64(len(msg)) {
		t.Fatalf("observer: %s, %d bytes for a %d-byte message", obs, obs.writeBytes.Load(), len(msg))
	}
	obs.balanced(t)
}

func TestPublish_BatchFrameLeavesDroppedEventsOutAndRetriesOnlyTheRest(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.NoRead = true })
	cfg := batchConfig(s)
	cfg.MaxLen = 1 << 20
	cfg.Timeout = 300 * time.Millisecond
	c, obs := newTestClient(t, cfg)
	mustConnect(t, c)

	// The server does not read: a 64 MiB batch cannot be written before the
	// deadline, so the whole batch fails, less the event max_len dropped.
	big := strings.Repeat("b", 1<<20)
	events := []beat.Event{logEvent(big), logEvent(big + "!"), logEvent(big)}
	for i := 0; i < 61; i++ {
		events = append(events, logEvent(big))
	}
	batch := outest.NewBatch(events...)
	if err := c.Publish(context.Background(), batch); err == nil {
		t.Fatal("publish to a stalled server succeeded")
	}
	sig := onlySignal(t, batch)
	if sig.Tag != outest.BatchRetryEvents || len(sig.Events) != 63 {
		t.Fatalf("signal %v with %d events, want RetryEvents with the 63 kept events", sig.Tag, len(sig.Events))
	}
	for _, e := range sig.Events {
		if e.Content.Fields["message"] != big {
			t.Fatal("the dropped event was retried")
		}
	}
	if obs.dropped.Load() != 1 || obs.failed.Load() != 63 {
		t.Fatalf("observer: %s", obs)
	}
	obs.balanced(t)
}

func TestPublish_BatchFrameOfDroppedEventsOnlySendsNothing(t *testing.T) {
	s := wstest.New(t, nil)
	c, obs := newTestClient(t, batchConfig(s))
	mustConnect(t, c)

	batch := outest.NewBatch(logEvent(1), beat.Event{Fields: mapStr{}})
	if err := c.Publish(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if sig := onlySignal(t, batch); sig.Tag != outest.BatchACK {
		t.Fatalf("signal %v, want ACK", sig.Tag)
	}
	// A later batch arrives as the first message: nothing empty came before.
	if err := c.Publish(context.Background(), batchOf(1)); err != nil {
		t.Fatal(err)
	}
	if got := s.Receive(1)[0]; messageOf(t, strings.TrimSuffix(got, "\n")) != "event 0" {
		t.Fatalf("first message %q", got)
	}
	if obs.dropped.Load() != 2 {
		t.Fatalf("observer: %s", obs)
	}
	obs.balanced(t)
}

func TestPublish_BinaryOpcodeSendsBinaryMessages(t *testing.T) {
	for _, frame := range []string{frameEvent, frameBatch} {
		t.Run(frame, func(t *testing.T) {
			s := wstest.New(t, nil)
			cfg := testConfig(s)
			cfg.Frame, cfg.Opcode = frame, opcodeBinary
			c, _ := newTestClient(t, cfg)
			mustConnect(t, c)
			if err := c.Publish(context.Background(), batchOf(3)); err != nil {
				t.Fatal(err)
			}
			n := 3
			if frame == frameBatch {
				n = 1
			}
			s.Receive(n)
			if got := s.Binary.Load(); got != int64(n) {
				t.Fatalf("%d of %d messages were binary", got, n)
			}
		})
	}
}

func TestPublish_CodecJSONSendsWholeEvents(t *testing.T) {
	s := wstest.New(t, nil)
	cfg := batchConfig(s)
	cfg.Codec = codecConfig(t, "json: {}")
	c, _ := newTestClient(t, cfg)
	mustConnect(t, c)

	ev := logEvent("hello")
	ev.Fields["log"] = mapStr{"offset": 7}
	if err := c.Publish(context.Background(), outest.NewBatch(ev)); err != nil {
		t.Fatal(err)
	}
	got := s.Receive(1)[0]
	for _, want := range []string{`"message":"hello"`, `"offset":7`, `"@timestamp":`, `"beat":"filebeat"`} {
		if !strings.Contains(got, want) {
			t.Fatalf("message %q lacks %s", got, want)
		}
	}
}
