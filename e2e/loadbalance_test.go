package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Three receivers behind one output with loadbalance: every one gets
// traffic and, with acks, when one of them dies the other two take its
// share: the union of what they received is every line.
func TestLoadBalance_ThreeReceiversShareAndTheRestTakeOverFromOneThatDies(t *testing.T) {
	const total = 60000
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	recvs := make([]*receiver, 3)
	tails := make([]*tailer, 3)
	var urls []string
	for i := range recvs {
		out := filepath.Join(dir, fmt.Sprintf("received-%d.log", i))
		recvs[i] = startReceiver(t, dir, "127.0.0.1:0", out, "-ack")
		tails[i] = newTailer(t, out)
		urls = append(urls, fmt.Sprintf("%q", "ws://"+recvs[i].addr+"/echo"))
	}
	output := fmt.Sprintf("hosts: [%s]\nloadbalance: true\nack.enabled: true\nbatch_size: 500\nbackoff.init: 100ms\nbackoff.max: 1s\n",
		strings.Join(urls, ", "))

	// The log grows at about 10,000 lines/s, so the death is mid-stream.
	writing := growLog(t, log, 5000, total, 1000, 100*time.Millisecond)
	fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), inputFor(log), output)

	events := func(r *receiver) int64 { return r.stats(t).Events }
	waitFor(t, time.Minute, "traffic at every receiver", func() bool {
		return events(recvs[0]) > 0 && events(recvs[1]) > 0 && events(recvs[2]) > 0
	})
	waitFor(t, time.Minute, "a third of the lines", func() bool {
		return events(recvs[0])+events(recvs[1])+events(recvs[2]) >= total/3
	})
	dead := recvs[1]
	atDeath := []int64{events(recvs[0]), events(dead), events(recvs[2])}
	dead.kill(t)
	t.Logf("killed receiver 1 after %d events (the others had %d and %d)", atDeath[1], atDeath[0], atDeath[2])

	union := func() (distinct, lines int) {
		seen := map[int]bool{}
		for _, tl := range tails {
			tl.read()
			lines += tl.lines
			for i := range tl.counts {
				seen[i] = true
			}
		}
		return len(seen), lines
	}
	waitFor(t, 2*time.Minute, "every line in the union of the receivers' output", func() bool {
		d, _ := union()
		return d == total
	})
	if err := <-writing; err != nil {
		t.Fatal(err)
	}
	fb.stop(t)
	for _, i := range []int{0, 2} {
		if after := events(recvs[i]); after <= atDeath[i] {
			t.Fatalf("receiver %d got nothing after receiver 1 died (%d events)", i, after)
		}
	}
	distinct, lines := union()
	t.Logf("all %d lines arrived; receivers 0, 1 (killed), 2 wrote %d, %d, %d lines; %d duplicates",
		distinct, tails[0].lines, tails[1].lines, tails[2].lines, lines-distinct)
}
