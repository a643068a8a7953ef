package wsclient

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/logp"
	"github.com/elastic/beats/v7/libbeat/outputs"
	"github.com/elastic/beats/v7/libbeat/publisher"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// BenchmarkPublish measures the client's publishing path, one op per batch
// of batch_size events of 200 bytes, and reports it per event. Without
// acks the server discards the raw bytes, so that the allocations counted
// are the client's own. With acks it is the simplest server there is: it
// reads each message and acknowledges it, one ack per message (PROTOCOL.md
// allows it), and the op ends once the batch is acknowledged; its reads
// and writes run in this process too, and count.
func BenchmarkPublish(b *testing.B) {
	for _, bc := range []struct {
		name  string
		frame string
		acks  bool
	}{
		{"frame=event", frameEvent, false},
		{"frame=batch", frameBatch, false},
		{"frame=event/acks=every-message", frameEvent, true},
		{"frame=batch/acks=every-message", frameBatch, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				upgrader := websocket.Upgrader{Subprotocols: []string{protocol.Subprotocol}}
				ws, err := upgrader.Upgrade(w, r, nil)
				if err != nil {
					return
				}
				defer ws.Close()
				if !bc.acks {
					io.Copy(io.Discard, ws.NetConn())
					return
				}
				var ack []byte
				for n := uint64(1); ; n++ {
					_, msg, err := ws.NextReader()
					if err != nil {
						return
					}
					if _, err := io.Copy(io.Discard, msg); err != nil {
						return
					}
					ack = protocol.AppendAck(ack[:0], n)
					if err := ws.WriteMessage(websocket.TextMessage, ack); err != nil {
						return
					}
				}
			}))
			defer srv.Close()

			cfg := defaultConfig()
			cfg.Addr = strings.TrimPrefix(srv.URL, "http://")
			cfg.Frame = bc.frame
			cfg.PingInterval = 0 // the server does not answer pings
			cfg.Ack.Enabled = bc.acks
			enc, err := newEncoder(cfg, beat.Info{Beat: "filebeat"})
			if err != nil {
				b.Fatal(err)
			}
			log, _ := logp.NewTesting("websocket")
			c := newClient(cfg, firstEndpoint(b, cfg), enc, metrics{stats: outputs.NewNilObserver(), conn: newConnMetrics(outputRegistry(nil))}, log)
			defer c.Close()
			if err := c.Connect(); err != nil {
				b.Fatal(err)
			}

			msg := `000012345 2024-03-01T12:30:45.123Z INFO [http] served method=GET path=/api/v1/items/42 status=200 bytes=512 user="alice" dur=12ms `
			events := make([]publisher.Event, cfg.BatchSize)
			for i := range events {
				events[i] = publisher.Event{Content: logEvent(msg + strings.Repeat("x", 200-len(msg)))}
			}
			batch := &benchBatch{events: events, want: int64(b.N), done: make(chan struct{}), failed: make(chan struct{})}
			b.SetBytes(int64(200 * len(events)))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.Publish(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-batch.done:
			case <-batch.failed:
				b.Fatal("a batch was not acknowledged")
			case <-time.After(wait):
				b.Fatalf("%d of %d batches acknowledged", batch.acked.Load(), b.N)
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			n := float64(b.N * len(events))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/event")
		})
	}
}

// benchBatch is a batch the benchmark publishes again and again: done is
// closed once it was acknowledged want times, failed if it ever is not.
// Its methods may be called from any goroutine.
type benchBatch struct {
	events []publisher.Event
	want   int64
	acked  atomic.Int64
	done   chan struct{}
	failed chan struct{}
	once   sync.Once
}

func (b *benchBatch) Events() []publisher.Event { return b.events }

func (b *benchBatch) ACK() {
	if b.acked.Add(1) == b.want {
		close(b.done)
	}
}

func (b *benchBatch) fail() { b.once.Do(func() { close(b.failed) }) }

func (b *benchBatch) Drop()                             { b.fail() }
func (b *benchBatch) Retry()                            { b.fail() }
func (b *benchBatch) RetryEvents([]publisher.Event)     { b.fail() }
func (b *benchBatch) Cancelled()                        { b.fail() }
func (b *benchBatch) CancelledEvents([]publisher.Event) { b.fail() }
