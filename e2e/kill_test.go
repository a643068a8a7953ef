package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
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

// The kill test: Filebeat ships a growing log while the server is killed
// with SIGKILL, and Filebeat is killed with SIGKILL too, each at a random
// point, and each is restarted. The server is the reference receiver, which
// also crashes once by itself (wsreceiver -crash-after, which exits holding
// unflushed, unacknowledged messages), or one of the example servers
// (examples_test.go). E2E_SEED=n repeats a run's failure points.
const (
	killLines = 200000
	batchSize = 2048 // the output's default
	workers   = 1    // the output's default
	ackWindow = 2    // batches awaiting acks per connection (wsclient)
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

// killPlan is what a kill test does.
type killPlan struct {
	start serverStarter
	// crashing starts a server that crashes by itself after n messages,
	// for the first of the server's failures if crashes is 1.
	crashing      func(n int) serverStarter
	kills         int // the server SIGKILLed
	crashes       int // 0, or 1 with crashing
	filebeatKills int
	acks          bool
	output        string // further output settings, such as the frame
}

func (p killPlan) failures() int { return p.kills + p.crashes + p.filebeatKills }

// receiverKills is the plan with the reference receiver.
func receiverKills(acks bool) killPlan {
	return killPlan{
		start:         receiverStarter(),
		crashing:      func(n int) serverStarter { return receiverStarter(fmt.Sprintf("-crash-after=%d", n)) },
		kills:         3,
		crashes:       1,
		filebeatKills: 1,
		acks:          acks,
	}
}

func TestKill_WithAcksEveryLineArrivesAtLeastOnce(t *testing.T) {
	r := killTest(t, receiverKills(true))
	r.wantEveryLine(t)
	t.Logf("with acks: %s", r)
}

// Without acks the same faults lose events; this run measures how many for
// the README, and checks only that what did arrive is intact.
func TestKill_WithoutAcksReportsWhatIsLost(t *testing.T) {
	r := killTest(t, receiverKills(false))
	t.Logf("without acks: %s", r)
}

type killResult struct {
	plan                          killPlan
	seed                          int64
	received, missing, duplicates int
	elapsed                       time.Duration
}

func (r killResult) String() string {
	return fmt.Sprintf("%d server kills, %d server crashes and %d Filebeat kills (seed %d): %d of %d lines missing, %d duplicates, %d lines received, in %v",
		r.plan.kills, r.plan.crashes, r.plan.filebeatKills, r.seed, r.missing, killLines, r.duplicates, r.received, r.elapsed.Round(time.Millisecond))
}

// wantEveryLine fails the test if a line never arrived, or if more arrived
// twice than the failures can explain.
func (r killResult) wantEveryLine(t *testing.T) {
	t.Helper()
	if r.missing > 0 {
		t.Fatalf("%d of %d lines never arrived with acks on (%s)", r.missing, killLines, r)
	}
	// What can come twice: what the server held and had not acknowledged
	// when it died, and what Filebeat had sent and not recorded in its
	// registry when it died; at most the batches in flight each time.
	failures := r.plan.failures()
	if bound := failures * batchSize * workers * ackWindow; r.duplicates > bound {
		t.Fatalf("%d duplicates after %d failures, more than %d x %d x %d x %d = %d (%s)",
			r.duplicates, failures, failures, batchSize, workers, ackWindow, bound, r)
	}
}

func killTest(t *testing.T, plan killPlan) killResult {
	seed := time.Now().UnixNano()
	if s := os.Getenv("E2E_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	rnd := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)

	dir := t.TempDir()
	log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")

	// The log grows at about 20,000 lines/s, so every kill is mid-stream.
	writing := growLog(t, log, 2000, killLines, 2000, 100*time.Millisecond)

	// Failure points, as lines in the output; one kills Filebeat, and the
	// first of the server's may be its own crash.
	points := make([]int, plan.failures())
	for i := range points {
		points[i] = killLines/10 + rnd.Intn(killLines*8/10)
	}
	sort.Ints(points)
	filebeatKills := map[int]bool{}
	for _, i := range rnd.Perm(len(points))[:plan.filebeatKills] {
		filebeatKills[i] = true
	}
	crash := -1
	for i := range points {
		if plan.crashes > 0 && !filebeatKills[i] {
			crash = i
			break
		}
	}

	start := time.Now()
	startServer := plan.start
	if crash >= 0 {
		startServer = plan.crashing(points[crash])
	}
	srv := startServer(t, dir, "127.0.0.1:0", out, plan.acks)
	output := fmt.Sprintf("addr: %q\npath: /echo\nack.enabled: %v\nbackoff.init: 100ms\nbackoff.max: 1s\n%s", srv.addr, plan.acks, plan.output)
	plugin := filepath.Join(dist, "websocket.so")
	fb := startFilebeat(t, dir, plugin, inputFor(log), output)

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
			srv, restarted = plan.start(t, dir, srv.addr, out, plan.acks), progress()
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
		if filebeatKills[i] {
			fb.kill(t)
			t.Logf("killed Filebeat at about %d lines", progress())
			fb, restarted = startFilebeat(t, dir, plugin, inputFor(log), output), progress()
			continue
		}
		srv.kill(t)
		t.Logf("killed the server at about %d lines", progress())
		time.Sleep(time.Duration(100+rnd.Intn(400)) * time.Millisecond) // the outage
		srv, restarted = plan.start(t, dir, srv.addr, out, plan.acks), progress()
	}
	if err := <-writing; err != nil {
		t.Fatal(err)
	}

	// The last server has repaired any line torn by a kill, so the output
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
	srv.stop(t)
	tail.read()
	return killResult{
		plan:       plan,
		seed:       seed,
		received:   tail.lines,
		missing:    killLines - tail.distinct(),
		duplicates: tail.lines - tail.distinct(),
		elapsed:    elapsed,
	}
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

// tailer follows the receiver's output file as it grows, checking every
// line and counting each log line's arrivals.
type tailer struct {
	t      *testing.T
	f      *os.File
	r      *bufio.Reader
	part   []byte
	lines  int
	counts map[int]int
}

func newTailer(t *testing.T, path string) *tailer {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &tailer{t: t, f: f, r: bufio.NewReaderSize(f, 1<<20), counts: map[int]int{}}
}

// read takes in the complete lines written since the last call and
// returns how many lines there are in all.
func (tl *tailer) read() int {
	tl.t.Helper()
	for {
		chunk, err := tl.r.ReadBytes('\n')
		tl.part = append(tl.part, chunk...)
		if err == io.EOF {
			return tl.lines // an incomplete line waits for the rest
		}
		if err != nil {
			tl.t.Fatal(err)
		}
		tl.take(tl.part[:len(tl.part)-1])
		tl.part = tl.part[:0]
	}
}

func (tl *tailer) take(raw []byte) {
	tl.t.Helper()
	var m struct{ Message string }
	if err := json.Unmarshal(raw, &m); err != nil || len(m.Message) < 7 {
		tl.t.Fatalf("line %d of the receiver's output is not {timestamp,message}: %q (%v)", tl.lines+1, raw, err)
	}
	i, err := strconv.Atoi(m.Message[:7])
	if err != nil || i < 0 || i >= killLines || m.Message != line(i) {
		tl.t.Fatalf("line %d of the receiver's output is no line of the log: %q", tl.lines+1, m.Message)
	}
	tl.counts[i]++
	tl.lines++
}

func (tl *tailer) distinct() int { return len(tl.counts) }
