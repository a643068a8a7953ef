package e2e

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// The kill test with Filebeat's disk queue (libbeat's queue.disk), and
// with a tcp input, which has no registry.
//
// With the disk queue, libbeat acknowledges an event to its input once it
// is written to disk (filestream's registry then moves past it), and takes
// it off the disk once the output has acknowledged it. So Filebeat is
// killed while the receiver is down, once it has taken in outageBacklog
// events more: those are then on disk only, and must all arrive after the
// restart.

// diskQueueSettings are the kill tests' disk queue: in Filebeat's data
// folder (the default path, kept across restarts), with room for the whole
// stream.
const diskQueueSettings = "queue.disk.max_size: 256MB"

func TestKill_DiskQueueWithAcksEveryLineArrivesAtLeastOnce(t *testing.T) {
	sc := fiveFailures
	sc.acks, sc.diskQueue, sc.filebeatInOutage = true, true, true
	r := killTest(t, sc)
	r.everyLineAtLeastOnce(t)
	t.Logf("disk queue, with acks: %s", r)
}

// tcpKills are the tcp input's faults: the receiver killed twice and
// crashed once, and Filebeat killed during one of the receiver's outages.
// The crash comes after a message of a batch the receiver has not
// acknowledged, so libbeat retries at least one batch.
var tcpKills = killScenario{acks: true, kills: 2, crashes: 1, filebeatKills: 1, filebeatInOutage: true, source: newTCPSender}

// Every line the disk queue had taken when Filebeat was killed arrives, and
// every line sent to Filebeat after its restart; between them, what
// Filebeat had read and not yet written to disk, and what was still in the
// sockets' buffers, is lost with it (the test reports how many).
func TestKill_TCPInputDiskQueueDeliversEveryLineOnDisk(t *testing.T) {
	sc := tcpKills
	sc.diskQueue = true
	sc.output = "retry_limit: -1"
	r := killTest(t, sc)
	r.everyLineAtLeastOnce(t)
	t.Logf("tcp input, disk queue, with acks: %s", r)
}

// The same with the memory queue, whose queue.acked counts what the output
// acknowledged: a Filebeat kill also loses what the queue held (the test
// reports how many). retry_limit is 0, so that libbeat would drop an event
// that is not guaranteed at its first failed attempt (the default 3 needs
// four failures of one batch, which three receiver failures cannot cause).
// Filebeat marks every input's events guaranteed (filebeat/beater's
// WithDefaultGuarantees), so none is dropped, although the receiver's crash
// makes libbeat retry some.
func TestKill_TCPInputMemoryQueueLosesOnlyWhatFilebeatHeld(t *testing.T) {
	sc := tcpKills
	sc.output = "retry_limit: 0"
	r := killTest(t, sc)
	r.everyLineAtLeastOnce(t)
	if r.retried == 0 || r.dropped != 0 {
		t.Fatalf("libbeat retried %d events and dropped %d after retry_limit, want some retried and none dropped (%s)", r.retried, r.dropped, r)
	}
	t.Logf("tcp input, memory queue, retry_limit 0, with acks: %s", r)
}

// tcpSender sends the lines to Filebeat's tcp input, 2,000 every 100 ms on
// one connection. TCP carries no acknowledgement from Filebeat: a write
// succeeds once the kernel has the bytes. So what the sender wrote before
// Filebeat died may never have been read; Filebeat takes responsibility for
// a line once its queue has it (libbeat.pipeline.queue.acked: written to
// disk with the disk queue, acknowledged by the output with the memory
// queue). After a failed write the sender goes on with the next lines on a
// new connection, to the restarted Filebeat.
type tcpSender struct {
	addr   string
	stop   chan struct{} // closed when the test ends
	mu     sync.Mutex
	starts []int // the first line sent on each connection
}

func newTCPSender(t *testing.T, _ string) lineSource {
	s := &tcpSender{addr: freeAddr(t), stop: make(chan struct{})}
	t.Cleanup(func() { close(s.stop) })
	return s
}

func (s *tcpSender) input() string { return fmt.Sprintf("- type: tcp\n  host: %q\n", s.addr) }

func (s *tcpSender) registry() bool { return false }

func (s *tcpSender) feed() <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.send() }()
	return done
}

var errTestOver = errors.New("the test is over")

func (s *tcpSender) send() error {
	const step, every = 2000, 100 * time.Millisecond
	var conn net.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for from := 0; from < killLines; from += step {
		if from > 0 {
			select { // the pace
			case <-time.After(every):
			case <-s.stop:
				return errTestOver
			}
		}
		if conn == nil {
			c, err := s.dial()
			if err != nil {
				return err
			}
			conn = c
			s.mu.Lock()
			s.starts = append(s.starts, from)
			s.mu.Unlock()
		}
		if err := writeLines(conn, from, min(from+step, killLines)); err != nil {
			conn.Close() // Filebeat died
			conn = nil
		}
	}
	// Filebeat reads up to the end of what a closed connection carried.
	err := conn.Close()
	conn = nil
	return err
}

// dial connects to the tcp input, trying every 50 ms until Filebeat
// listens, for at most 2 minutes.
func (s *tcpSender) dial() (net.Conn, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no tcp input on %s after 2 minutes: %w", s.addr, err)
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-s.stop:
			return nil, errTestOver
		}
	}
}

// unguaranteed is what Filebeat had not taken into its queue when it was
// killed, up to the first line sent to it after its restart.
func (s *tcpSender) unguaranteed(taken int) (int, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := 1
	if taken >= 0 {
		want = 2
	}
	if len(s.starts) != want {
		return 0, 0, fmt.Errorf("the lines went over %d connections, want %d: a connection broke while Filebeat ran (first lines %v)", len(s.starts), want, s.starts)
	}
	if taken < 0 {
		return 0, 0, nil
	}
	if taken > s.starts[1] {
		return 0, 0, fmt.Errorf("Filebeat's queue had taken %d lines, more than the %d sent to it", taken, s.starts[1])
	}
	return taken, s.starts[1], nil
}
