package wsclient

// Tests of what only the 9.5 line's adapter does (line.go): the group it
// gives 9.5's libbeat, a load without an Observer, as `filebeat test
// output` does it, and 9.5's Observer under 7.17's names.

import (
	"context"
	"testing"

	"github.com/elastic/beats/v7/libbeat/outputs"
	"github.com/elastic/beats/v7/libbeat/outputs/outest"
	"github.com/elastic/elastic-agent-libs/logp/logptest"
	"github.com/elastic/elastic-agent-libs/monitoring"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

func TestMakeOutput95_GroupHasBatchSizeRetryLimitAndThePipelinesQueue(t *testing.T) {
	group, err := load(t, map[string]interface{}{"addr": "127.0.0.1:9", "batch_size": 50, "retry_limit": 7, "workers": 2})
	if err != nil {
		t.Fatal(err)
	}
	if group.BatchSize != 50 || group.Retry != 7 || len(group.Clients) != 2 {
		t.Fatalf("group: batch size %d, retry %d, %d clients; want 50, 7, 2", group.BatchSize, group.Retry, len(group.Clients))
	}
	// No queue of the output's own, no encoder factory: as on 7.17, the
	// pipeline's queue holds libbeat's events.
	if group.QueueFactory != nil || group.EncoderFactory != nil {
		t.Fatal("the output set a queue or an encoder factory of its own")
	}
}

func TestMakeOutput95_WithoutAnObserverPublishes(t *testing.T) {
	s := wstest.New(t, nil)
	group, err := load(t, map[string]interface{}{"addr": s.Addr(), "path": "/ws"}) // loadOutput gives no Observer
	if err != nil {
		t.Fatal(err)
	}
	c := group.Clients[0].(outputs.NetworkClient)
	if err := connect(c); err != nil {
		t.Fatal(err)
	}
	batch := batchOf(3)
	if err := c.Publish(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	s.Receive(3)
	if got := onlySignal(t, batch); got.Tag != outest.BatchACK {
		t.Fatalf("batch got %v, want ACK", got.Tag)
	}
}

func TestRenamed_Counts7NamesIn95sMetrics(t *testing.T) {
	reg := monitoring.NewRegistry()
	o := renamed{outputs.NewStats(reg, logptest.NewTestingLogger(t, ""))}
	o.NewBatch(10)
	o.Acked(4)
	o.Failed(3)
	o.Dropped(2)
	o.Failed(1)
	for name, want := range map[string]uint64{
		"events.total": 10, "events.acked": 4, "events.failed": 3 + 1, "events.dropped": 2,
		"events.active": 0, // each event of the batch accounted for once
	} {
		v, ok := reg.Get(name).(*monitoring.Uint)
		if !ok {
			t.Fatalf("no metric %s", name)
		}
		if got := v.Get(); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}
