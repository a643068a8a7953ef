package e2e

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The kill test: Filebeat ships a growing log while the receiver is killed
// with SIGKILL three times and crashes once by itself (wsreceiver
// -crash-after, which exits holding unflushed, unacknowledged messages),
// and Filebeat is killed with SIGKILL once, each at a random point, and
// each is restarted. E2E_SEED=n repeats a run's failure points.
const (
	killLines       = 200000
	receiverKills   = 3 // SIGKILL
	receiverCrashes = 1 // -crash-after
	filebeatKills   = 1 // SIGKILL
	failures        = receiverKills + receiverCrashes + filebeatKills
	batchSize       = 2048 // the output's default
	workers         = 1    // the output's default
	ackWindow       = 2    // batches awaiting acks per connection (wsclient)
)

func TestKill_WithAcksEveryLineArrivesAtLeastOnce(t *testing.T) {
	r := killTest(t, true)
	if r.missing > 0 {
		t.Fatalf("%d of %d lines never arrived with acks on (%s)", r.missing, killLines, r)
	}
	// What can come twice: what the server held and had not acknowledged
	// when it died, and what Filebeat had sent and not recorded in its
	// registry when it died; at most the batches in flight each time.
	if bound := failures * batchSize * workers * ackWindow; r.duplicates > bound {
		t.Fatalf("%d duplicates after %d failures, more than %d x %d x %d x %d = %d (%s)",
			r.duplicates, failures, failures, batchSize, workers, ackWindow, bound, r)
	}
	t.Logf("with acks: %s", r)
}

// Without acks the same faults lose events; this run measures how many for
// the README, and checks only that what did arrive is intact.
func TestKill_WithoutAcksReportsWhatIsLost(t *testing.T) {
	r := killTest(t, false)
	t.Logf("without acks: %s", r)
}

type killResult struct {
	seed                          int64
	received, missing, duplicates int
	elapsed                       time.Duration
}

func (r killResult) String() string {
	return fmt.Sprintf("%d receiver kills, %d receiver crash and %d Filebeat kill (seed %d): %d of %d lines missing, %d duplicates, %d lines received, in %v",
		receiverKills, receiverCrashes, filebeatKills, r.seed, r.missing, killLines, r.duplicates, r.received, r.elapsed.Round(time.Millisecond))
}

func killTest(t *testing.T, acks bool) killResult {
	seed := time.Now().UnixNano()
	if s := os.Getenv("E2E_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	rnd := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)

	dir := t.TempDir()
	log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
	var recvFlags []string
	if acks {
		recvFlags = []string{"-ack"}
	}

	// The log grows at about 20,000 lines/s, so every kill is mid-stream.
	writing := growLog(t, log, 2000, killLines, 2000, 100*time.Millisecond)

	// Failure points, as events received; one kills Filebeat, and the
	// first of the receiver's is its own simulated crash.
	points := make([]int, failures)
	for i := range points {
		points[i] = killLines/10 + rnd.Intn(killLines*8/10)
	}
	sort.Ints(points)
	filebeatKill := rnd.Intn(len(points))
	crash := 0
	if filebeatKill == 0 {
		crash = 1
	}

	start := time.Now()
	recv := startReceiver(t, dir, "127.0.0.1:0", out, append(recvFlags, fmt.Sprintf("-crash-after=%d", points[crash]))...)
	output := outputTo(recv, fmt.Sprintf("ack.enabled: %v\nbackoff.init: 100ms\nbackoff.max: 1s", acks))
	plugin := filepath.Join(dist, "websocket.so")
	fb := startFilebeat(t, dir, plugin, inputFor(log), output)

	// Progress, in events the receivers have counted: those of the killed
	// ones (as last seen) and the current one's.
	var before int
	progress := func() int { return before + int(recv.stats(t).Events) }
	for i, point := range points {
		if i == crash {
			if err := recv.wait(t, 2*time.Minute); err == nil || !strings.Contains(recv.output(), "crashing after") {
				t.Fatalf("receiver exited with %v, want its simulated crash; its log:\n%s", err, recv.tail())
			}
			before = point
			t.Logf("the receiver crashed by itself after %d messages", point)
			recv = startReceiver(t, dir, recv.addr, out, recvFlags...)
			continue
		}
		waitFor(t, 2*time.Minute, fmt.Sprintf("%d events before kill %d", point, i+1), func() bool {
			return progress() >= point
		})
		if i == filebeatKill {
			fb.kill(t)
			t.Logf("killed Filebeat at about %d events", progress())
			fb = startFilebeat(t, dir, plugin, inputFor(log), output)
			continue
		}
		at := progress()
		recv.kill(t)
		before = at
		t.Logf("killed the receiver at about %d events", at)
		time.Sleep(time.Duration(100+rnd.Intn(400)) * time.Millisecond) // the outage
		recv = startReceiver(t, dir, recv.addr, out, recvFlags...)
	}
	if err := <-writing; err != nil {
		t.Fatal(err)
	}

	// The last receiver has repaired any line torn by a kill, so the output
	// file only grows from here on. Done when every line has arrived or, as
	// happens without acks, nothing more arrives for much longer than the
	// slowest reconnect (1s).
	tail := newTailer(t, out)
	quiet, last := time.Now(), tail.read()
	for tail.distinct() < killLines && time.Since(quiet) < 10*time.Second {
		time.Sleep(200 * time.Millisecond)
		if n := tail.read(); n != last {
			quiet, last = time.Now(), n
		}
		if time.Since(start) > 4*time.Minute {
			t.Fatalf("still receiving after 4 minutes: %d of %d lines", tail.distinct(), killLines)
		}
	}
	elapsed := time.Since(start)
	fb.stop(t)
	recv.stop(t)
	tail.read()
	return killResult{
		seed:       seed,
		received:   tail.lines,
		missing:    killLines - tail.distinct(),
		duplicates: tail.lines - tail.distinct(),
		elapsed:    elapsed,
	}
}
