package wsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/outputs/outest"

	"github.com/beats-websocket/websocket-output/transport"
	"github.com/beats-websocket/websocket-output/transport/wstest"
)

// With frame: event the connection gathers a batch's messages into writes
// of up to 64 KiB. When one of those writes fails, the events of the
// writes before it are on the wire and the rest are not: exactly the rest
// goes back to libbeat, and only with acks off do the others count as
// delivered.

// failingWrite makes the client's sockets fail their write numbered at
// (from 1, the handshake's request first) without writing a byte.
func failingWrite(at int64) func(*transport.Options) {
	return func(o *transport.Options) {
		var d net.Dialer
		var writes atomic.Int64
		o.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &failingConn{Conn: conn, writes: &writes, at: at}, nil
		}
	}
}

var errInjected = errors.New("injected write failure")

type failingConn struct {
	net.Conn
	writes *atomic.Int64
	at     int64
}

func (c *failingConn) Write(p []byte) (int, error) {
	if c.writes.Add(1) == c.at {
		return 0, errInjected
	}
	return c.Conn.Write(p)
}

// eventsOf10KiB is a batch of n events whose messages start "event i " and
// take about 10 KiB: six fit in one write of the connection.
func eventsOf10KiB(n int) *outest.Batch {
	events := make([]beat.Event, n)
	for i := range events {
		events[i] = logEvent(fmt.Sprintf("event %d %s", i, strings.Repeat("x", 10<<10-100)))
	}
	return outest.NewBatch(events...)
}

func TestPublish_AFailedWriteMidBatchRetriesExactlyTheEventsNotOnTheWire(t *testing.T) {
	s := wstest.New(t, nil)
	// The handshake, two writes of six events each, then the failure.
	c, obs := newClientWith(t, testConfig(s), testLogger(t), failingWrite(4))
	mustConnect(t, c)

	batch := eventsOf10KiB(100)
	err := c.Publish(context.Background(), batch)
	if !errors.Is(err, errInjected) {
		t.Fatalf("publish error %v, want the injected write failure", err)
	}
	received := s.Receive(12)
	sent, bytes := len(received), len(strings.Join(received, ""))
	s.End()
	if n := s.Pending(); n != 0 {
		t.Fatalf("the server received %d events more than the two writes held", n)
	}
	sig := onlySignal(t, batch)
	all := batch.Events()
	if sig.Tag != outest.BatchRetryEvents || len(sig.Events) != len(all)-sent {
		t.Fatalf("signal %v with %d events, want the %d the server did not receive retried", sig.Tag, len(sig.Events), len(all)-sent)
	}
	if strings.Join(messagesOf(t, sig.Events), "|") != strings.Join(messagesOf(t, all[sent:]), "|") {
		t.Fatal("the retried events are not those after the last write that succeeded")
	}
	if obs.acked.Load() != int64(sent) || obs.failed.Load() != int64(len(all)-sent) || obs.writeErrors.Load() != 1 {
		t.Fatalf("observer: %s, %d write errors; want %d acked, %d failed, 1 write error", obs, obs.writeErrors.Load(), sent, len(all)-sent)
	}
	if obs.writeBytes.Load() != int64(bytes) {
		t.Fatalf("%d bytes counted as written, want the %d of the events on the wire", obs.writeBytes.Load(), bytes)
	}
	obs.balanced(t)
}

// With acks, what reached the server counts only once it acknowledges it:
// a server that received two writes' worth and acknowledged nothing gets
// the whole batch again.
func TestAck_AFailedWriteMidBatchRetriesEverythingTheServerDidNotAcknowledge(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Ack = true })
	c, obs := newClientWith(t, ackTestConfig(s), testLogger(t), failingWrite(4))
	mustConnect(t, c)

	b := &signalled{Batch: eventsOf10KiB(100), ch: make(chan outest.BatchSignal, 10)}
	b.OnSignal = func(sig outest.BatchSignal) { b.ch <- sig }
	if err := c.Publish(context.Background(), b); !errors.Is(err, errInjected) {
		t.Fatalf("publish error %v, want the injected write failure", err)
	}
	s.Receive(12)
	sig := b.signal(t)
	if sig.Tag != outest.BatchRetryEvents || len(sig.Events) != 100 {
		t.Fatalf("signal %v with %d events, want all 100 retried: the server acknowledged none", sig.Tag, len(sig.Events))
	}
	if obs.acked.Load() != 0 || obs.failed.Load() != 100 {
		t.Fatalf("observer: %s, want 0 acked and 100 failed", obs)
	}
	obs.balanced(t)
}
