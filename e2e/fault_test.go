package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	receiverpkg "github.com/beats-websocket/websocket-output/receiver"
)

// The fault suite: Filebeat ships a growing log with acks on, through the
// tests' fault proxy or to a receiver told to misbehave, while the network
// or the server fails in the ways a long-running shipper meets; every line
// must arrive (at least once), and Filebeat must notice each fault by the
// means meant for it.

// faultRun is Filebeat shipping n lines through a fault proxy to a
// receiver with acks.
type faultRun struct {
	n       int
	out     string
	recv    *receiver
	proxy   *faultProxy
	fb      *filebeat
	writing <-chan error
	final   receiverpkg.Stats // the receiver's, when deliveredAll stopped it
}

// startFaultRun writes first lines of n to a log, then appends the rest at
// about 10,000 lines a second, and ships it with acks through a fault proxy
// with the given further output settings.
func startFaultRun(t *testing.T, n, first int, recvFlags []string, output string) *faultRun {
	t.Helper()
	return startFaultRunWith(t, n, first, recvFlags, output, "", false)
}

// startFaultRunWith is startFaultRun with further top-level Filebeat
// settings, and over wss:// (the receiver serving TLS with a test CA's
// certificate) if wss is set.
func startFaultRunWith(t *testing.T, n, first int, recvFlags []string, output, settings string, wss bool) *faultRun {
	t.Helper()
	dir := t.TempDir()
	log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
	scheme, ssl := "ws", ""
	var p pki
	if wss {
		p = newPKI(t, dir)
		recvFlags = append(recvFlags, "-tls-cert", p.serverCert, "-tls-key", p.serverKey)
		scheme, ssl = "wss", fmt.Sprintf("ssl.certificate_authorities: [%q]\n", p.ca)
	}
	recv := startReceiver(t, dir, "127.0.0.1:0", out, append([]string{"-ack"}, recvFlags...)...)
	if wss {
		recv.tls = p.clientTLS(t)
	}
	proxy := startFaultProxy(t, recv.addr)
	writing := growLog(t, log, first, n, 1000, 100*time.Millisecond)
	output = fmt.Sprintf("hosts: [\"%s://%s/echo\"]\nack.enabled: true\n%s%s", scheme, proxy.addr, ssl, output)
	fb := startFilebeatWith(t, dir, inputFor(log), output, settings)
	return &faultRun{n: n, out: out, recv: recv, proxy: proxy, fb: fb, writing: writing}
}

// waitEvents waits until the receiver has counted at least n events.
func (r *faultRun) waitEvents(t *testing.T, n int64) {
	t.Helper()
	waitFor(t, 2*time.Minute, fmt.Sprintf("%d events at the receiver", n), func() bool {
		if !r.fb.running() {
			t.Fatalf("filebeat exited: %v; its log:\n%s", r.fb.err, r.fb.tail())
		}
		return r.recv.stats(t).Events >= n
	})
}

// deliveredAll waits until every line of the log has arrived, failing with
// the number missing if they do not within two minutes, stops Filebeat and
// the receiver (keeping its last stats in final), and returns the
// duplicates.
func (r *faultRun) deliveredAll(t *testing.T) (duplicates int) {
	t.Helper()
	if err := <-r.writing; err != nil {
		t.Fatal(err)
	}
	tail := newTailer(t, r.out)
	deadline := time.Now().Add(2 * time.Minute)
	for tail.read(); tail.distinct() < r.n; tail.read() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d lines never arrived; Filebeat's log:\n%s", r.n-tail.distinct(), r.n, r.fb.tail())
		}
		if !r.fb.running() {
			t.Fatalf("filebeat exited: %v; its log:\n%s", r.fb.err, r.fb.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.fb.stop(t)
	r.final = r.recv.stats(t)
	r.recv.stop(t)
	tail.read()
	return tail.lines - tail.distinct()
}

// mostDuplicates is how many lines may arrive twice after the given
// number of faults with acks on: each can cost what was in flight and not
// acknowledged, at most ackWindow batches of batchSize on the one worker.
func mostDuplicates(t *testing.T, faults, duplicates int) {
	t.Helper()
	if bound := faults * batchSize * ackWindow; duplicates > bound {
		t.Fatalf("%d duplicates after %d faults, more than %d x %d x %d = %d", duplicates, faults, faults, batchSize, ackWindow, bound)
	}
}

// logLine waits, at most timeout, for a line of Filebeat's log after the
// first skip bytes that contains every one of want, and returns it.
func (r *faultRun) logLine(t *testing.T, skip int, timeout time.Duration, want ...string) string {
	t.Helper()
	var found string
	deadline := time.Now().Add(timeout)
	for found == "" {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %q in Filebeat's log:\n%s", timeout, want, r.fb.tail())
		}
		out := r.fb.output()
		for _, l := range strings.Split(out[min(skip, len(out)):], "\n") {
			if containsAll(l, want) {
				found = l
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return found
}

func TestFault_BlackholeIsDetectedByPingsAndNothingIsLost(t *testing.T) {
	const (
		n            = 60000
		pingInterval = time.Second
		pingTimeout  = time.Second
		outage       = 8 * time.Second
	)
	r := startFaultRun(t, n, 2000, nil, fmt.Sprintf(
		"ping_interval: %v\nping_timeout: %v\ntimeout: 2s\nbackoff.init: 200ms\nbackoff.max: 1s\nack.timeout: 60s",
		pingInterval, pingTimeout))
	r.waitEvents(t, 10000)

	skip := len(r.fb.output())
	accepted := r.proxy.accepted.Load()
	r.proxy.setBlackhole(true)
	start := time.Now()
	// The read deadline runs out pingInterval + pingTimeout after the
	// server last showed life; acks came until the blackhole began. The
	// ack timeout (60s) must not be what notices.
	l := r.logLine(t, skip, time.Minute, "no pong within ping_timeout")
	detected := time.Since(start)
	if bound := pingInterval + pingTimeout + 2*time.Second; detected > bound {
		t.Fatalf("the dead connection was noticed after %v, want within ping_interval + ping_timeout (%v) and 2s of polling slack: %s",
			detected.Round(time.Millisecond), pingInterval+pingTimeout, l)
	}
	// It reconnects, into the same silence: the handshake times out.
	r.logLine(t, skip, 30*time.Second, "Failed to connect", "i/o timeout")
	if time.Since(start) < outage {
		time.Sleep(outage - time.Since(start))
	}
	attempts := r.proxy.accepted.Load() - accepted
	if attempts < 2 {
		t.Fatalf("%d connection attempts during the %v outage, want at least 2", attempts, outage)
	}
	r.proxy.setBlackhole(false)

	dups := r.deliveredAll(t)
	mostDuplicates(t, 1, dups)
	t.Logf("blackhole of %v: noticed after %v, %d connection attempts during it; 0 of %d lines lost, %d duplicates",
		outage, detected.Round(time.Millisecond), attempts, n, dups)
}

func TestFault_SlowServerGetsBackpressureAndLosesNothing(t *testing.T) {
	// A batch is one message of 6.5 MB: more than the kernel takes in
	// from a write to a server that reads 32 KB a second (Linux's send
	// buffer grows to 4 MB by default), so writes block. They make
	// progress, so they do not time out (timeout bounds a write's lack of
	// progress, not its length). The queue holds one batch.
	const (
		n         = 200000 // 40 MB: six times what Filebeat's queue holds
		queue     = 32768
		batch     = queue
		rate      = 32 << 10
		slowPhase = 10 * time.Second
	)
	r := startFaultRunWith(t, n, n, nil,
		fmt.Sprintf("frame: batch\nbatch_size: %d\ntimeout: 2s\nbackoff.init: 200ms\nbackoff.max: 1s\nack.timeout: 60s", batch),
		fmt.Sprintf("queue.mem.events: %d\nqueue.mem.flush.min_events: %d", queue, batch), false)
	r.proxy.setTrickle(rate)

	// While the server reads at a trickle, Filebeat must neither fill its
	// memory with the log nor give up on it.
	var peakActive, published int64
	waitFor(t, 30*time.Second, "Filebeat's stats endpoint", func() bool {
		_, ok := r.fb.tryOutputStats()
		return ok
	})
	// RSS from when the queue has filled: it must not grow with the time
	// the server stays slow.
	var settled, peakRSS int64
	start := time.Now()
	for time.Since(start) < slowPhase {
		p := r.fb.pipelineStats(t)
		peakActive = max(peakActive, p.Events.Active)
		published = p.Events.Published
		if rss := r.fb.memory(t).now; time.Since(start) > slowPhase/3 {
			if settled == 0 {
				settled = rss
			}
			peakRSS = max(peakRSS, rss)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Active events are those in the queue and a few on their way into it.
	if peakActive > queue+1000 {
		t.Fatalf("%d events were in Filebeat's pipeline at once, more than its queue of %d: no backpressure", peakActive, queue)
	}
	if published > n/2 {
		t.Fatalf("Filebeat read %d of %d lines while the server took %d bytes a second: it does not slow down", published, n, rate)
	}
	// A full queue takes Filebeat to about 250 MB here, and the 6.5 MB
	// message being written stays live; holding the whole log would take
	// six queues.
	if bound := int64(450 << 20); peakRSS > bound {
		t.Fatalf("Filebeat's RSS reached %d MB (from %d MB) while the server stayed slow, over %d MB", peakRSS>>20, settled>>20, bound>>20)
	}
	if out := r.fb.output(); strings.Contains(out, "i/o timeout") || strings.Contains(out, "no pong") {
		t.Fatalf("a slow server that takes data timed out a write or a pong:\n%s", r.fb.tail())
	}
	r.proxy.setTrickle(0)

	rss := r.fb.memory(t)
	dups := r.deliveredAll(t)
	t.Logf("slow server (%d KB/s for %v): at most %d events in the pipeline, %d of %d read, no write timeout",
		rate>>10, slowPhase, peakActive, published, n)
	t.Logf("RSS %d MB to %d MB while slow, peak %d MB; 0 of %d lines lost, %d duplicates", settled>>20, peakRSS>>20, rss.peak>>20, n, dups)
}

// A batch that takes longer than timeout to cross a slow link is delivered,
// not timed out and retried unchanged forever: timeout bounds a write's lack
// of progress. Over TLS too, where a write that timed out leaves the
// connection unusable.
func TestFault_SlowLinkDeliversABatchLongerToSendThanTimeout(t *testing.T) {
	const (
		n    = 8192     // about 2 MB in one frame: batch message
		rate = 32 << 10 // 64 s for the batch
	)
	for _, wss := range []bool{false, true} {
		name := "ws"
		if wss {
			name = "wss"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel() // mostly waiting for the trickle
			// With the default ack.timeout (30s): a batch's acknowledgement
			// is due that long after it reached the server, not after it
			// went into the socket buffer.
			r := startFaultRunWith(t, n, n, nil,
				fmt.Sprintf("frame: batch\nbatch_size: %d\ntimeout: 2s", n),
				fmt.Sprintf("queue.mem.events: %d\nqueue.mem.flush.min_events: %d", 2*n, n), wss)
			r.proxy.setTrickle(rate)
			start := time.Now()
			dups := r.deliveredAll(t)
			if out := r.fb.output(); strings.Contains(out, "i/o timeout") || strings.Contains(out, "Failed to publish") ||
				strings.Contains(out, "failed to publish") || strings.Contains(out, "no pong") {
				t.Fatalf("the batch was not sent in one go:\n%s", r.fb.tail())
			}
			if dups != 0 || r.final.Connections != 1 {
				t.Fatalf("%d duplicates over %d connections, want none over one: the batch was sent again", dups, r.final.Connections)
			}
			t.Logf("%s: %d lines (%d KB on the wire) at %d KB/s with timeout 2s: delivered in %v over one connection, 0 lost, 0 duplicates",
				name, n, r.final.WireBytes>>10, rate>>10, time.Since(start).Round(time.Second))
		})
	}
}

func TestFault_ServerCloseFramesReconnectWithBackoffAndLoseNothing(t *testing.T) {
	const (
		n       = 8000
		every   = 1500 // messages per connection
		backoff = 300 * time.Millisecond
	)
	codes := map[int]string{1000: "normal", 1001: "going away", 1008: "policy violation", 1011: "internal server error"}
	for code, name := range codes {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			t.Parallel()
			r := startFaultRun(t, n, 2000, []string{fmt.Sprintf("-close-every=%d", every), fmt.Sprintf("-close-code=%d", code)},
				fmt.Sprintf("backoff.init: %v\nbackoff.max: 2s", backoff))
			l := r.logLine(t, 0, time.Minute, fmt.Sprintf("server closed the connection: websocket: close %d", code))
			dups := r.deliveredAll(t)
			closes := int(r.final.Closes)
			mostDuplicates(t, closes, dups)
			if closes < n/every-1 {
				t.Fatalf("the receiver closed %d connections, want at least %d", closes, n/every-1)
			}
			// Filebeat reconnects when it has something to send: after
			// every close but one that came after the last line (CI saw
			// 15 closes and 14 reconnects). The receiver counts the
			// connections; Filebeat has stopped, so its log holds them all.
			reconnects := int(r.final.Connections) - 1
			if reconnects < closes-1 {
				t.Fatalf("Filebeat reconnected %d times after %d closes", reconnects, closes)
			}
			gaps := backedOff(t, r.fb, reconnects, backoff)
			t.Logf("close %d (%s): %d closes, reconnect delays %v, 0 of %d lines lost, %d duplicates; %s",
				code, name, closes, gaps, n, dups, l[strings.Index(l, "server closed"):])
		})
	}
}

func TestFault_TCPResetsMidBatchLoseNothing(t *testing.T) {
	const (
		n      = 60000
		resets = 3
	)
	const backoff = 200 * time.Millisecond
	r := startFaultRun(t, n, 2000, nil, fmt.Sprintf("frame: batch\nbackoff.init: %v\nbackoff.max: 1s", backoff))
	r.waitEvents(t, 2000)
	for i := 1; i <= resets; i++ {
		// A batch is about 400 KB: an odd offset falls inside one.
		r.proxy.setResetAfter(int64(i)*(300<<10) + 4099)
		waitFor(t, time.Minute, fmt.Sprintf("reset %d", i), func() bool { return r.proxy.resets.Load() >= int64(i) })
		r.proxy.setResetAfter(0)
		r.waitEvents(t, r.recv.stats(t).Events+5000)
	}
	dups := r.deliveredAll(t)
	if got := r.proxy.resets.Load(); got < resets {
		t.Fatalf("%d resets, want %d", got, resets)
	}
	mostDuplicates(t, int(r.proxy.resets.Load()), dups)
	gaps := backedOff(t, r.fb, resets, backoff)
	t.Logf("%d TCP resets mid-batch, %d connections, reconnect delays %v: 0 of %d lines lost, %d duplicates",
		r.proxy.resets.Load(), r.proxy.accepted.Load(), gaps, n, dups)
}

// backedOff checks that Filebeat reconnected after each of at least
// failures lost connections, each time no sooner than backoff, and returns
// the delays.
func backedOff(t *testing.T, fb *filebeat, failures int, backoff time.Duration) []time.Duration {
	t.Helper()
	gaps := reconnectGaps(t, fb.log)
	if len(gaps) < failures {
		t.Fatalf("Filebeat reconnected %d times after %d lost connections", len(gaps), failures)
	}
	for _, g := range gaps {
		if g < backoff {
			t.Fatalf("Filebeat reconnected %v after losing a connection, sooner than backoff.init (%v): reconnect delays %v", g, backoff, gaps)
		}
	}
	return gaps
}

// reconnectGaps returns, from Filebeat's log, the time from each failed
// publish (a lost connection) to the "Connection ... established" after
// it: the backoff wait and the handshake.
func reconnectGaps(t *testing.T, logPath string) []time.Duration {
	t.Helper()
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var gaps []time.Duration
	var attempt time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		l := sc.Text()
		stamp, _, _ := strings.Cut(l, "\t")
		at, err := time.Parse("2006-01-02T15:04:05.000Z0700", stamp)
		if err != nil {
			continue
		}
		switch {
		case strings.Contains(l, "failed to publish events"):
			attempt = at
		case strings.Contains(l, "established") && !attempt.IsZero():
			gaps = append(gaps, at.Sub(attempt))
			attempt = time.Time{}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return gaps
}
