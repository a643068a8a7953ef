package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Beats' names of workers, batch_size and retry_limit, as Filebeat's
// other outputs call them, set the same settings in the real Filebeat.
// (Both names of one setting: TestEndToEnd_BadConfigStopsFilebeatAtStart...)
func TestBeatsNames_WorkerBulkMaxSizeAndMaxRetriesAreHonoured(t *testing.T) {
	const batch = 7
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	writeLog(t, log, 0, scenarioLines)
	recv := startReceiver(t, dir, "127.0.0.1:0", filepath.Join(dir, "received.log"))
	// frame: batch makes each batch one message, so the messages show the
	// batches' size.
	fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), inputFor(log),
		outputTo(recv, fmt.Sprintf("frame: batch\nworker: 2\nbulk_max_size: %d\nmax_retries: 5", batch)))
	waitFor(t, 2*time.Minute, fmt.Sprintf("%d events at the receiver", scenarioLines), func() bool {
		if !fb.running() {
			t.Fatalf("Filebeat exited: %v; its log:\n%s", fb.err, fb.tail())
		}
		return recv.stats(t).Events >= scenarioLines
	})
	fb.stop(t)

	s := recv.stats(t)
	t.Logf("%d events in %d messages over %d connections", s.Events, s.Messages, s.Connections)
	if s.Events != scenarioLines {
		t.Fatalf("the receiver got %d events, want %d", s.Events, scenarioLines)
	}
	// worker: 2 is two connections to the one host.
	if s.Connections != 2 {
		t.Fatalf("the receiver got %d connections, want 2 (worker: 2)", s.Connections)
	}
	// bulk_max_size: 7 is batches of at most 7 events: at least this many
	// messages (the default, 2048, would need two).
	if s.Messages < (scenarioLines+batch-1)/batch {
		t.Fatalf("%d events came in %d messages: batches larger than bulk_max_size: %d", s.Events, s.Messages, batch)
	}
	// max_retries only matters for events that are not guaranteed, which
	// Filebeat's inputs never send: the start-up line shows it was taken.
	want := fmt.Sprintf("2 worker(s) to ws://%s/echo, batch_size: %d, retry_limit: 5,", recv.addr, batch)
	if !strings.Contains(fb.output(), want) {
		t.Fatalf("Filebeat's start-up line does not say %q:\n%s", want, fb.tail())
	}
}
