package wsclient

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/elastic/beats/v7/libbeat/outputs"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

// The connection metrics in Filebeat's registry, under
// libbeat.output.websocket: one set per output, summed over every host and
// worker, made afresh (not registered twice, which panics) when libbeat
// loads the output again.

func loadMonitored(t *testing.T, settings map[string]interface{}) (outputs.Group, func(string) int64) {
	t.Helper()
	cfg, err := newConfigFrom(settings)
	if err != nil {
		t.Fatal(err)
	}
	group, metric := loadMonitoredOutput(t, cfg)
	t.Cleanup(func() {
		for _, c := range group.Clients {
			c.Close()
		}
	})
	return group, metric
}

func TestMetrics_OneSetPerOutputSummedOverHostsAndWorkersAndMadeAfreshOnReload(t *testing.T) {
	a, b := wstest.New(t, nil), wstest.New(t, nil)
	settings := map[string]interface{}{
		"hosts":       []string{"ws://" + a.Addr() + "/ws", "ws://" + b.Addr() + "/ws"},
		"loadbalance": true,
		"worker":      2,
	}
	for round := 1; round <= 2; round++ { // the second load is libbeat's reload of the output
		group, metric := loadMonitored(t, settings)
		if len(group.Clients) != 4 {
			t.Fatalf("%d clients, want 4 (2 hosts × 2 workers)", len(group.Clients))
		}
		if metric("websocket.connections.opened") != 0 {
			t.Fatalf("load %d: the metrics did not start over: %d opened", round, metric("websocket.connections.opened"))
		}
		for _, c := range group.Clients {
			if err := connect(c.(outputs.NetworkClient)); err != nil {
				t.Fatal(err)
			}
		}
		if metric("websocket.connections.open_gauge") != 4 || metric("websocket.connections.opened") != 4 {
			t.Fatalf("load %d: %d open, %d opened, want 4 and 4", round,
				metric("websocket.connections.open_gauge"), metric("websocket.connections.opened"))
		}
		// Server a closes its two connections: lost by a close frame, and
		// the gauge goes down at once, not at the next publish.
		msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "restarting")
		for range 2 {
			if err := a.Conn().WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range group.Clients {
			client := c.(testable).NetworkClient.(*Client)
			if !strings.Contains(client.String(), a.Addr()) {
				continue
			}
			select {
			case <-client.conn.Current().Done():
			case <-time.After(wait):
				t.Fatal("a closed connection was never noticed")
			}
		}
		if metric("websocket.connections.open_gauge") != 2 || metric("websocket.connections.lost.close_frame") != 2 {
			t.Fatalf("load %d: after two close frames %d open, %d lost by close frame; want 2 and 2", round,
				metric("websocket.connections.open_gauge"), metric("websocket.connections.lost.close_frame"))
		}
		for _, c := range group.Clients {
			c.Close()
		}
		if metric("websocket.connections.open_gauge") != 0 {
			t.Fatalf("load %d: %d open after Close, want 0", round, metric("websocket.connections.open_gauge"))
		}
		for range 2 {
			b.Conn() // the next round's are new ones
		}
		if round == 2 {
			// A load that libbeat did not clear the registry for finds the
			// last output's set, and replaces it rather than registering
			// its names twice (a panic).
			newConnMetrics(outputRegistry(pipelineObserver(t))).opened.Inc()
			if metric("websocket.connections.opened") != 1 || metric("websocket.connections.lost.close_frame") != 0 {
				t.Fatalf("a load without clearing: %d opened, %d lost; want the new set's 1 and 0",
					metric("websocket.connections.opened"), metric("websocket.connections.lost.close_frame"))
			}
		}
	}
}

func TestMetrics_RefusedHandshakesAreCountedByStatusClass(t *testing.T) {
	for _, tc := range []struct {
		status int
		class  string
	}{{http.StatusUnauthorized, "4xx"}, {http.StatusServiceUnavailable, "5xx"}, {http.StatusFound, "3xx"}, {http.StatusOK, "other"}} {
		s := wstest.New(t, func(s *wstest.Server) { s.Refuse = tc.status })
		group, metric := loadMonitored(t, map[string]interface{}{"hosts": []string{"ws://" + s.Addr() + "/ws"}})
		if err := connect(group.Clients[0].(outputs.NetworkClient)); err == nil {
			t.Fatalf("HTTP %d: connect succeeded", tc.status)
		}
		for _, class := range refusedClasses {
			want := int64(0)
			if class == tc.class {
				want = 1
			}
			if got := metric("websocket.connections.refused." + class); got != want {
				t.Fatalf("HTTP %d: %d refusals counted as %s, want %d", tc.status, got, class, want)
			}
		}
		if metric("websocket.connections.failed") != 1 || metric("websocket.connections.opened") != 0 {
			t.Fatalf("HTTP %d: %d failed, %d opened; want 1 and 0", tc.status,
				metric("websocket.connections.failed"), metric("websocket.connections.opened"))
		}
	}
}

// With acks, a published batch is awaiting acknowledgement until the server
// acknowledges it, and its latency is measured; libbeat's output counters
// add up: every event given to Publish counted once.
func TestMetrics_BatchesAwaitingAcknowledgementAndAckLatency(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Ack = true })
	group, metric := loadMonitored(t, map[string]interface{}{
		"hosts": []string{"ws://" + s.Addr() + "/ws"}, "ack.enabled": true,
	})
	c := group.Clients[0].(outputs.NetworkClient)
	if err := connect(c); err != nil {
		t.Fatal(err)
	}
	ws := s.Conn()
	b := signalledBatchOf(3)
	if err := c.Publish(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	s.Receive(3)
	if got := metric("websocket.acks.awaiting_gauge"); got != 1 {
		t.Fatalf("%d batches awaiting acknowledgement, want 1", got)
	}
	s.Send(ws, websocket.TextMessage, `{"ack":3}`)
	b.signal(t)
	if metric("websocket.acks.awaiting_gauge") != 0 || metric("websocket.acks.latency_us.histogram.count") != 1 {
		t.Fatalf("after the ack: %d awaiting, %d latencies; want 0 and 1",
			metric("websocket.acks.awaiting_gauge"), metric("websocket.acks.latency_us.histogram.count"))
	}
	if metric("events.total") != 3 || metric("events.acked") != 3 || metric("events.active") != 0 {
		t.Fatalf("events: %d total, %d acked, %d active; want 3, 3, 0",
			metric("events.total"), metric("events.acked"), metric("events.active"))
	}
}

// `filebeat test output` loads the output without an Observer: its
// connections are not the running output's, and it must leave the running
// output's metrics in Filebeat's registry as they are.
func TestMetrics_AnOutputLoadedWithoutObserverLeavesTheRegistryAlone(t *testing.T) {
	srv := wstest.New(t, nil)
	settings := map[string]interface{}{"hosts": []string{"ws://" + srv.Addr() + "/ws"}, "worker": 2}
	running, metric := loadMonitored(t, settings)
	for _, c := range running.Clients {
		if err := connect(c.(outputs.NetworkClient)); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := newConfigFrom(map[string]interface{}{"hosts": []string{"ws://" + srv.Addr() + "/ws"}})
	if err != nil {
		t.Fatal(err)
	}
	tested, err := loadOutput(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tested.Clients[0].Close()
	if err := connect(tested.Clients[0].(outputs.NetworkClient)); err != nil {
		t.Fatal(err)
	}
	if opened, open := metric("websocket.connections.opened"), metric("websocket.connections.open_gauge"); opened != 2 || open != 2 {
		t.Fatalf("after an output without Observer connected: %d opened, %d open in the registry; want the running output's 2 and 2", opened, open)
	}
}
