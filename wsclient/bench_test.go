package wsclient

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/logp"
	"github.com/elastic/beats/v7/libbeat/outputs"
	"github.com/elastic/beats/v7/libbeat/outputs/outest"
)

// BenchmarkPublish measures the client's publishing path, one op per batch
// of batch_size events, against a server that discards the raw bytes, so
// that the allocations counted are the client's own. It reports them per
// event.
func BenchmarkPublish(b *testing.B) {
	for _, frame := range []string{frameEvent, frameBatch} {
		b.Run("frame="+frame, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
				if err != nil {
					return
				}
				defer ws.Close()
				io.Copy(io.Discard, ws.NetConn())
			}))
			defer srv.Close()

			cfg := defaultConfig()
			cfg.Addr = strings.TrimPrefix(srv.URL, "http://")
			cfg.Frame = frame
			cfg.PingInterval = 0 // the server does not answer pings
			enc, err := newEncoder(cfg, beat.Info{Beat: "filebeat"})
			if err != nil {
				b.Fatal(err)
			}
			log, _ := logp.NewTesting("websocket")
			c := newClient(cfg, firstEndpoint(b, cfg), enc, outputs.NewNilObserver(), log)
			defer c.Close()
			if err := c.Connect(); err != nil {
				b.Fatal(err)
			}

			msg := `000012345 2024-03-01T12:30:45.123Z INFO [http] served method=GET path=/api/v1/items/42 status=200 bytes=512 user="alice" dur=12ms `
			events := make([]beat.Event, cfg.BatchSize)
			for i := range events {
				events[i] = logEvent(msg + strings.Repeat("x", 200-len(msg)))
			}
			batch := outest.NewBatch(events...)
			b.SetBytes(int64(200 * len(events)))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				batch.Signals = batch.Signals[:0]
				if err := c.Publish(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			n := float64(b.N * len(events))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/event")
		})
	}
}
