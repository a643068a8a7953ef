package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The kill test: Filebeat ships killLines lines while the server is killed
// with SIGKILL, and Filebeat is killed with SIGKILL, each at a random point,
// and each is restarted. The server is the reference receiver, which also
// crashes by itself (wsreceiver -crash-after, which exits holding
// unflushed, unacknowledged messages), or one of the example servers
// (examples_test.go). A killScenario says how often, to which server, with
// which queue and from which input. E2E_SEED=n repeats a run's failure
// points.
const (
	killLines = 200000
	batchSize = 2048 // the output's default
	workers   = 1    // the output's default
	ackWindow = 2    // batches awaiting acks per connection (transport.AckWindow)
	// diskWriteAhead is the disk queue's write_ahead default: the most
	// events one write puts on disk before they are acknowledged to the
	// inputs, so the most a registry can lag behind the queue.
	diskWriteAhead = 2048
	// outageBacklog is how many events Filebeat takes in while the
	// server is down before a kill in the outage: more than a batch.
	outageBacklog = 3000
)

// A serverStarter starts a server under test listening on addr
// ("127.0.0.1:0" picks a port), appending each event it receives to out as
// a line, and returns once it listens. With acks it acknowledges them.
type serverStarter func(t *testing.T, dir, addr, out string, acks bool) *server

// server is a WebSocket server process under test.
type server struct {
	*process
	addr string
}

// receiverStarter starts dist/wsreceiver with further flags.
func receiverStarter(flags ...string) serverStarter {
	return func(t *testing.T, dir, addr, out string, acks bool) *server {
		t.Helper()
		if acks {
			flags = append(flags[:len(flags):len(flags)], "-ack")
		}
		r := startReceiver(t, dir, addr, out, flags...)
		return &server{process: r.process, addr: r.addr}
	}
}

// receiverCrashing starts dist/wsreceiver crashing by itself after n
// messages.
func receiverCrashing(n int) serverStarter {
	return receiverStarter(fmt.Sprintf("-crash-after=%d", n))
}

// killScenario is what the kill test does, and to what.
type killScenario struct {
	acks bool
	// start starts the server; nil is the reference receiver, which
	// crashing starts crashing by itself after n messages.
	start    serverStarter
	crashing func(n int) serverStarter
	kills    int // the server SIGKILLed
	crashes  int // the server crashing by itself (with crashing); at most 1
	// filebeatKills is 0 or 1: Filebeat SIGKILLed.
	filebeatKills int
	// filebeatInOutage kills Filebeat while the server is down, once
	// Filebeat has taken in outageBacklog events more (or filled its
	// memory queue): what it has taken in since is then only in its queue.
	filebeatInOutage bool
	diskQueue        bool   // Filebeat's disk queue (diskQueueSettings) instead of its memory queue
	output           string // further output.websocket settings
	// source makes the lines' way into Filebeat, in dir; nil is a
	// growing log read by filestream.
	source func(t *testing.T, dir string) lineSource
}

// The original kill test's faults, to the reference receiver.
var fiveFailures = killScenario{kills: 3, crashes: 1, filebeatKills: 1}

func (sc killScenario) failures() int {
	return sc.kills + sc.crashes + sc.filebeatKills
}

// lineSource feeds the kill test's lines to Filebeat.
type lineSource interface {
	// input is Filebeat's input for the lines.
	input() string
	// feed starts sending the lines, about 20,000 a second; the channel
	// says when all are out, with the first error.
	feed() <-chan error
	// unguaranteed returns the lines [from, to) that may be lost without
	// the output being at fault, given that Filebeat, when it was killed,
	// had taken responsibility (libbeat.pipeline.queue.acked) for the
	// first taken lines it was sent; taken is -1 if it was not killed.
	unguaranteed(taken int) (from, to int, err error)
	// registry says whether the input records what the queue has taken
	// and reads again what it had not recorded (filestream, log).
	registry() bool
}

// growingLog is a log file growing at about 20,000 lines a second, read by
// filestream: its registry makes Filebeat read again, after a crash, what
// its queue had not taken, so every line is guaranteed.
type growingLog struct {
	t    *testing.T
	path string
}

func newGrowingLog(t *testing.T, dir string) lineSource {
	return growingLog{t: t, path: filepath.Join(dir, "app.log")}
}

func (l growingLog) input() string { return inputFor(l.path) }

func (l growingLog) feed() <-chan error {
	return growLog(l.t, l.path, 2000, killLines, 2000, 100*time.Millisecond)
}

func (growingLog) unguaranteed(int) (int, int, error) { return 0, 0, nil }

func (growingLog) registry() bool { return true }

func TestKill_WithAcksEveryLineArrivesAtLeastOnce(t *testing.T) {
	sc := fiveFailures
	sc.acks = true
	r := killTest(t, sc)
	r.everyLineAtLeastOnce(t)
	t.Logf("with acks: %s", r)
}

// Without acks the same faults lose events; this run measures how many for
// the README, and checks only that what did arrive is intact.
func TestKill_WithoutAcksReportsWhatIsLost(t *testing.T) {
	r := killTest(t, fiveFailures)
	t.Logf("without acks: %s", r)
}

type killResult struct {
	sc                            killScenario
	registry                      bool // the source's lineSource.registry
	seed                          int64
	received, missing, duplicates int
	// The lines [from, to) need not arrive (lineSource.unguaranteed);
	// lostWithFilebeat of them did not, and are not in missing.
	from, to, lostWithFilebeat int
	// Summed over Filebeat's runs, as last seen: events the output handed
	// back for retry (libbeat.output.events.failed) and events libbeat
	// dropped after retry_limit (libbeat.pipeline.events.dropped).
	retried, dropped int64
	elapsed          time.Duration
}

func (r killResult) String() string {
	s := fmt.Sprintf("%d server kills, %d server crashes and %d Filebeat kills (seed %d): %d of %d lines missing, %d duplicates, %d lines received, in %v",
		r.sc.kills, r.sc.crashes, r.sc.filebeatKills, r.seed, r.missing, killLines, r.duplicates, r.received, r.elapsed.Round(time.Millisecond))
	if r.to > r.from {
		s += fmt.Sprintf("; lines %d to %d not guaranteed, %d of them lost", r.from, r.to-1, r.lostWithFilebeat)
	}
	if r.sc.filebeatInOutage || r.sc.diskQueue {
		s += fmt.Sprintf("; %d events retried, %d dropped by libbeat", r.retried, r.dropped)
	}
	return s
}

// everyLineAtLeastOnce fails the test unless every line that must arrive
// did, and duplicates stay within what the failures can cause.
func (r killResult) everyLineAtLeastOnce(t *testing.T) {
	t.Helper()
	if r.missing > 0 {
		t.Fatalf("%d of %d lines never arrived with acks on (%s)", r.missing, killLines, r)
	}
	// What can come twice: what the server held and had not acknowledged
	// when it died, and what Filebeat had sent and not recorded in its
	// registry when it died; at most the batches in flight each time.
	bound := r.sc.failures() * batchSize * workers * ackWindow
	formula := fmt.Sprintf("%d x %d x %d x %d", r.sc.failures(), batchSize, workers, ackWindow)
	if r.sc.diskQueue && r.registry {
		// With the disk queue a registry records lines once they are on
		// disk, so a Filebeat kill can also repeat the write it was
		// recording.
		bound += r.sc.filebeatKills * diskWriteAhead
		formula += fmt.Sprintf(" + %d x %d", r.sc.filebeatKills, diskWriteAhead)
	}
	if r.duplicates > bound {
		t.Fatalf("%d duplicates after %d failures, more than %s = %d (%s)", r.duplicates, r.sc.failures(), formula, bound, r)
	}
}

func killTest(t *testing.T, sc killScenario) killResult {
	seed := time.Now().UnixNano()
	if s := os.Getenv("E2E_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	rnd := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	if sc.crashes > 1 || sc.filebeatKills > 1 {
		t.Fatalf("%d server crashes and %d Filebeat kills: the kill test does at most one of each", sc.crashes, sc.filebeatKills)
	}
	if sc.start == nil {
		sc.start, sc.crashing = receiverStarter(), receiverCrashing
	}

	dir := t.TempDir()
	out := filepath.Join(dir, "received.log")
	newSource := sc.source
	if newSource == nil {
		newSource = newGrowingLog
	}
	src := newSource(t, dir)
	var settings string
	if sc.diskQueue {
		settings = diskQueueSettings
	}

	// The lines come at about 20,000 a second, so every kill is mid-stream.
	writing := src.feed()

	// Failure points, as lines in the output. The server's own crash is its
	// first failure; Filebeat's kill has a point of its own, or with
	// filebeatInOutage comes with one of the server's kills.
	n := sc.kills + sc.crashes
	if !sc.filebeatInOutage {
		n += sc.filebeatKills
	}
	points := make([]int, n)
	for i := range points {
		points[i] = killLines/10 + rnd.Intn(killLines*8/10)
	}
	sort.Ints(points)
	filebeatKill, crash := -1, -1
	switch {
	case sc.filebeatKills == 0:
	case sc.filebeatInOutage && sc.crashes > 0:
		filebeatKill = 1 + rnd.Intn(len(points)-1)
	default:
		filebeatKill = rnd.Intn(len(points))
	}
	if sc.crashes > 0 {
		crash = 0
		if filebeatKill == 0 {
			crash = 1
		}
	}

	start := time.Now()
	startServer := sc.start
	if crash >= 0 {
		startServer = sc.crashing(points[crash])
	}
	srv := startServer(t, dir, "127.0.0.1:0", out, sc.acks)
	output := fmt.Sprintf("addr: %q\npath: /echo\nack.enabled: %v\nbackoff.init: 100ms\nbackoff.max: 1s\n%s", srv.addr, sc.acks, sc.output)
	startFB := func() *filebeat { return startFilebeatWith(t, dir, src.input(), output, settings) }
	fb := startFB()

	// Retries and drops, summed over Filebeat's runs: count adds a run's
	// as they are just before it ends.
	var retried, dropped int64
	count := func(s libbeatStats) {
		retried += s.Output.Events.Failed
		dropped += s.Pipeline.Events.Dropped
	}
	taken := -1 // libbeat.pipeline.queue.acked when Filebeat was killed

	// Progress: the lines in the output, which every server appends to.
	// Each failure comes at its point, and once what was restarted after
	// the one before has delivered a line, so that every one is mid-stream.
	lines := &lineCounter{path: out}
	progress := func() int { return lines.count(t) }
	restarted := 0 // lines at the last restart
	for i, point := range points {
		if i == crash {
			if err := srv.wait(t, 2*time.Minute); err == nil || !strings.Contains(srv.output(), "crashing after") {
				t.Fatalf("the server exited with %v, want its simulated crash; its log:\n%s", err, srv.tail())
			}
			t.Logf("the server crashed by itself after %d messages", point)
			srv, restarted = sc.start(t, dir, srv.addr, out, sc.acks), progress()
			continue
		}
		waitFor(t, 2*time.Minute, fmt.Sprintf("%d lines before failure %d", point, i+1), func() bool {
			switch {
			case srv.running():
				return progress() >= max(point, restarted+1)
			case i < crash:
				// Its crash, planned for later: it counts messages, which
				// include what it never wrote (wsreceiver flushes every
				// 100ms), so it can come before the output has point lines.
				return true
			default:
				t.Fatalf("the server exited: %v; its log:\n%s", srv.err, srv.tail())
				return false
			}
		})
		if i == filebeatKill && !sc.filebeatInOutage {
			count(fb.libbeatStats(t))
			fb.kill(t)
			t.Logf("killed Filebeat at about %d lines", progress())
			fb, restarted = startFB(), progress()
			continue
		}
		srv.kill(t)
		t.Logf("killed the server at about %d lines", progress())
		if i == filebeatKill {
			s := killWithBacklog(t, fb)
			count(s)
			taken = int(s.Pipeline.Queue.Acked)
			fb = startFB()
		} else {
			time.Sleep(time.Duration(100+rnd.Intn(400)) * time.Millisecond) // the outage
		}
		srv, restarted = sc.start(t, dir, srv.addr, out, sc.acks), progress()
	}
	if err := <-writing; err != nil {
		t.Fatal(err)
	}
	from, to, err := src.unguaranteed(taken)
	if err != nil {
		t.Fatal(err)
	}

	// The last server has repaired any line torn by a kill, so the output
	// file only grows from here on. Done when every line has arrived; when
	// every line that must arrive has and nothing more for 2s (reordering
	// after a retry is over in milliseconds, a line Filebeat lost will not
	// come); or, as happens without acks, when nothing more arrives for
	// much longer than the slowest reconnect (1s).
	tail := newTailer(t, out)
	due := func() bool { return tail.absent(0, from)+tail.absent(to, killLines) == 0 }
	quiet, last := time.Now(), tail.read()
	for tail.distinct() < killLines && time.Since(quiet) < 10*time.Second && (time.Since(quiet) < 2*time.Second || !due()) {
		time.Sleep(200 * time.Millisecond)
		if n := tail.read(); n != last {
			quiet, last = time.Now(), n
		}
		if time.Since(start) > 4*time.Minute {
			t.Fatalf("still receiving after 4 minutes: %d of %d lines", tail.distinct(), killLines)
		}
	}
	elapsed := time.Since(start)
	count(fb.libbeatStats(t))
	fb.stop(t)
	srv.stop(t)
	tail.read()
	return killResult{
		sc:               sc,
		registry:         src.registry(),
		seed:             seed,
		received:         tail.lines,
		missing:          tail.absent(0, from) + tail.absent(to, killLines),
		duplicates:       tail.lines - tail.distinct(),
		from:             from,
		to:               to,
		lostWithFilebeat: tail.absent(from, to),
		retried:          retried,
		dropped:          dropped,
		elapsed:          elapsed,
	}
}

// killWithBacklog kills Filebeat while the server is down, once it has
// taken in outageBacklog events more (or all, or as many as its memory
// queue holds), and returns its stats from just before.
func killWithBacklog(t *testing.T, fb *filebeat) libbeatStats {
	t.Helper()
	want := min(fb.pipelineStats(t).Events.Published+outageBacklog, killLines)
	waitFor(t, 2*time.Minute, fmt.Sprintf("Filebeat to take in %d events, or fill its queue, while the server is down", want), func() bool {
		p := fb.pipelineStats(t)
		return p.Events.Published >= want || p.Queue.MaxEvents > 0 && p.Events.Active >= p.Queue.MaxEvents
	})
	s := fb.libbeatStats(t)
	fb.kill(t)
	t.Logf("killed Filebeat while the server was down, after it had taken in %d events, %d of them into its queue for good (queue.acked)",
		s.Pipeline.Events.Published, s.Pipeline.Queue.Acked)
	return s
}

// lineCounter counts the complete lines of a file that servers append to
// and that a restarted server may cut back to its last complete line (a
// line torn by a kill was never acknowledged). It reads only what is new.
type lineCounter struct {
	path   string
	offset int64 // just after the last newline counted
	lines  int
}

func (c *lineCounter) count(t *testing.T) int {
	t.Helper()
	f, err := os.Open(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		n, err := f.ReadAt(buf, c.offset)
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		last := bytes.LastIndexByte(buf[:n], '\n')
		if last < 0 { // the end, or an incomplete line (the tests' are short)
			return c.lines
		}
		c.lines += bytes.Count(buf[:last+1], []byte{'\n'})
		c.offset += int64(last + 1)
	}
}
