package wsclient

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/beats/v7/libbeat/outputs"
	"github.com/elastic/beats/v7/libbeat/publisher"
)

// ackWindow is how many batches may await acknowledgement on one
// connection. Two let the next batch be encoded and written while the
// server confirms the previous one, and bound the events sent again after
// a failure to two batches per connection.
const ackWindow = 2

// inflight is a batch written on a connection and not yet acknowledged.
type inflight struct {
	batch  publisher.Batch
	events []publisher.Event // the batch's events less those dropped, in the order sent
	first  uint64            // the number of the message that carries events[0]
	last   uint64            // the number of the message that completes the batch
	// perEvent: events[i] went in message first+i (frame: event); else one
	// message carries them all.
	perEvent bool
	deadline time.Time // when the acknowledgement is overdue
}

// ackedBy is how many of f's events the server holds once it acknowledged
// n messages.
func (f *inflight) ackedBy(n uint64) int {
	switch {
	case n < f.first:
		return 0
	case !f.perEvent:
		return len(f.events)
	default:
		return min(int(n-f.first+1), len(f.events))
	}
}

// acks tracks one connection's batches from the moment they are written
// until the server acknowledges them, or the connection dies and their
// unacknowledged events go back to libbeat. Each batch is resolved exactly
// once: by ack (the reader), or by fail (whoever ends the connection), or
// at add or abandon when one of those already happened. A batch counts as
// delivered only when the server's count covers the number of its last
// message.
type acks struct {
	observer outputs.Observer
	timeout  time.Duration // ack.timeout

	// sent numbers the data messages: the publishing goroutine increments
	// it before each write, so that an ack can never outrun it.
	sent atomic.Uint64

	// delivered is set once the server has acknowledged a whole batch: the
	// connection proved it works.
	delivered atomic.Bool

	mu       sync.Mutex
	acked    uint64 // the server's latest count
	queue    []*inflight
	failed   bool
	progress chan struct{} // closed, and replaced, when the queue shrinks
}

func newAcks(observer outputs.Observer, timeout time.Duration) *acks {
	return &acks{observer: observer, timeout: timeout, progress: make(chan struct{})}
}

// add takes over a batch whose messages, f.first to f.last, were all
// written: it waits for its acknowledgement, or is resolved at once if that
// already came or the connection has failed.
func (a *acks) add(f *inflight) {
	a.mu.Lock()
	switch {
	case a.failed:
		acked := a.acked
		a.mu.Unlock()
		a.resolve(f, f.ackedBy(acked))
	case a.acked >= f.last:
		a.mu.Unlock()
		a.resolve(f, len(f.events))
	default:
		f.deadline = time.Now().Add(a.timeout)
		a.queue = append(a.queue, f)
		a.mu.Unlock()
	}
}

// abandon resolves a batch whose writing failed, which failed the
// connection (conn.fail settles the acks before anyone sees it dead): what
// the server acknowledged of it is ACKed, the rest retried. f.last is not
// known, and not needed: the server cannot have acknowledged a message that
// was not written.
func (a *acks) abandon(f *inflight) {
	a.mu.Lock()
	acked := a.acked
	a.mu.Unlock()
	a.resolve(f, f.ackedBy(acked))
}

// ack records the server's count n and ACKs every batch it completes. A
// count beyond what was sent is a protocol error; a count lower than an
// earlier one is stale and ignored.
func (a *acks) ack(n uint64) error {
	if sent := a.sent.Load(); n > sent {
		return fmt.Errorf("protocol error: server acknowledged %d messages, only %d were sent on this connection", n, sent)
	}
	a.mu.Lock()
	if n <= a.acked {
		a.mu.Unlock()
		return nil
	}
	a.acked = n
	var done []*inflight
	for len(a.queue) > 0 && a.queue[0].last <= n {
		done = append(done, a.queue[0])
		a.queue[0] = nil
		a.queue = a.queue[1:]
	}
	if len(done) > 0 {
		close(a.progress)
		a.progress = make(chan struct{})
	}
	a.mu.Unlock()

	for _, f := range done {
		a.resolve(f, len(f.events))
	}
	return nil
}

// fail resolves every waiting batch: what the server acknowledged is ACKed,
// the rest is retried. Later adds are resolved the same way at once.
//
// The batches are resolved on a goroutine of their own, which nothing waits
// for: at shutdown libbeat stops its retryer before it closes the output, so
// a retry can block for good then, and it must not block Close.
func (a *acks) fail() {
	a.mu.Lock()
	a.failed = true
	queue, acked := a.queue, a.acked
	a.queue = nil
	a.mu.Unlock()
	if len(queue) == 0 {
		return
	}
	go func() {
		for _, f := range queue {
			a.resolve(f, f.ackedBy(acked))
		}
	}()
}

// resolve ends f's batch: its first n events are acknowledged, the rest
// are handed back to libbeat to send again.
func (a *acks) resolve(f *inflight, n int) {
	a.observer.Acked(n)
	if n == len(f.events) {
		a.delivered.Store(true)
		f.batch.ACK()
		return
	}
	a.observer.Failed(len(f.events) - n)
	f.batch.RetryEvents(f.events[n:])
}

// waitRoom waits until fewer than ackWindow batches await acknowledgement.
// It returns the connection's error if the connection dies first.
func (a *acks) waitRoom(cn *conn) error {
	for {
		progress, n := a.waiting()
		if n < ackWindow {
			return cn.err()
		}
		select {
		case <-progress:
		case <-cn.dead:
			return cn.err()
		}
	}
}

// waitIdle waits, at most d, until nothing awaits acknowledgement or the
// connection dies.
func (a *acks) waitIdle(cn *conn, d time.Duration) {
	timeout := time.After(d)
	for {
		progress, n := a.waiting()
		if n == 0 {
			return
		}
		select {
		case <-progress:
		case <-cn.dead:
			return
		case <-timeout:
			return
		}
	}
}

// waiting returns how many batches await acknowledgement, and a channel
// closed when that number next goes down.
func (a *acks) waiting() (<-chan struct{}, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.progress, len(a.queue)
}

// overdue returns when the oldest waiting batch's acknowledgement is due,
// and how many messages are then unacknowledged; ok is false when nothing
// waits.
func (a *acks) overdue() (deadline time.Time, pending uint64, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.queue) == 0 {
		return time.Time{}, 0, false
	}
	return a.queue[0].deadline, a.queue[len(a.queue)-1].last - a.acked, true
}
