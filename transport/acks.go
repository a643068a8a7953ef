package transport

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// AckWindow is how many batches may await acknowledgement on one
// connection. Two let the next batch be encoded and written while the
// server confirms the previous one, and bound what is sent again after a
// failure to two batches per connection.
const AckWindow = 2

// Pending is a batch whose messages were written on a connection with
// acknowledgements (or whose writing failed there), as the adapter hands it
// over: the numbers its messages got, and what to do once it is known how
// many of its events the server holds.
type Pending struct {
	// First is the number of the message that carries the first event
	// (Conn.Write returned it), or, when no message was written, the number
	// the first would have had (Conn.Sent()+1).
	First uint64
	// Last is the number of the message that completes the batch; unused
	// by Abandon, which resolves a batch whose writing failed.
	Last uint64
	// PerEvent: event i went in message First+i (frame: event); else one
	// message carries them all (frame: batch).
	PerEvent bool
	// Events is how many events the batch sent (less those dropped).
	Events int
	// Resolve is called exactly once, from any goroutine, with how many of
	// the events, from the first, the server holds; the rest must be sent
	// again. It must not block for long: the reader may call it.
	Resolve func(acked int)

	deadline time.Time // when the acknowledgement is overdue
	wireEnd  uint64    // where the batch ends in the socket's byte count (Conn.dataEnd)
	written  time.Time // when it was handed to Await, for Metrics.AckLatency
}

// ackedBy is how many of p's events the server holds once it acknowledged
// n messages.
func (p *Pending) ackedBy(n uint64) int {
	switch {
	case n < p.First:
		return 0
	case !p.PerEvent:
		return p.Events
	default:
		return min(int(n-p.First+1), p.Events)
	}
}

// acks tracks one connection's batches from the moment they are written
// until the server acknowledges them, or the connection dies and their
// unacknowledged events go back to be sent again. Each batch is resolved
// exactly once: by ack (the reader), or by fail (whoever ends the
// connection), or at add or abandon when one of those already happened. A
// batch counts as delivered only when the server's count covers the number
// of its last message. It knows nothing of the connection: the connection
// numbers the messages and says how many it sent.
//
// A server may acknowledge every message, thousands a second. An ack that
// completes no batch costs the reader two atomic operations, without the
// lock: acked takes the count, and next, the last message of the oldest
// waiting batch, says whether it completes one. Only then does the reader
// take the lock, resolve what the count completes, and wake the publisher
// if it waits for room.
type acks struct {
	timeout time.Duration // ack.timeout
	metrics Metrics       // AwaitingAck: the queue's length; AckLatency

	// delivered is set once the server has acknowledged a whole batch: the
	// connection proved it works.
	delivered atomic.Bool

	acked atomic.Uint64 // the server's latest count; only the reader raises it
	next  atomic.Uint64 // queue[0].Last, or noneWaiting; written with mu held

	mu       sync.Mutex
	queue    []*Pending
	failed   bool
	progress chan struct{} // closed, and replaced, when the queue shrinks
}

// noneWaiting is next while no batch waits: no count reaches it.
const noneWaiting = math.MaxUint64

func newAcks(timeout time.Duration, metrics Metrics) *acks {
	a := &acks{timeout: timeout, metrics: metrics, progress: make(chan struct{}), queue: make([]*Pending, 0, AckWindow)}
	a.next.Store(noneWaiting)
	return a
}

// add takes over a batch whose messages, p.First to p.Last, were all
// written: it waits for its acknowledgement, or is resolved at once if that
// already came or the connection has failed.
func (a *acks) add(p *Pending) {
	a.mu.Lock()
	if a.failed {
		acked := a.acked.Load()
		a.mu.Unlock()
		a.resolve(p, p.ackedBy(acked))
		return
	}
	p.deadline = time.Now().Add(a.timeout)
	a.queue = append(a.queue, p)
	a.metrics.AwaitingAck(1)
	a.next.Store(a.queue[0].Last)
	// An ack that came meanwhile, between the reader storing its count and
	// loading next, may have found no batch to complete. The reader stores
	// acked then loads next, this stores next then loads acked: one of the
	// two sees the other's store (sync/atomic is sequentially consistent).
	var buf [AckWindow + 1]*Pending
	done := a.complete(a.acked.Load(), buf[:0])
	a.mu.Unlock()
	a.resolveAll(done)
}

// abandon resolves a batch whose writing failed, which failed the
// connection (Conn.fail settles the acks before anyone sees it dead): what
// the server acknowledged of it counts, the rest goes back. p.Last is not
// known, and not needed: the server cannot have acknowledged a message that
// was not written.
func (a *acks) abandon(p *Pending) {
	a.resolve(p, p.ackedBy(a.acked.Load()))
}

// ack records the server's count n of the messages sent so far and
// resolves every batch it completes; it says whether it completed one. A
// count beyond what was sent is a protocol error; a count lower than an
// earlier one is stale and ignored. Only the reader calls it.
func (a *acks) ack(n, sent uint64) (completed bool, err error) {
	if n > sent {
		return false, fmt.Errorf("protocol error: server acknowledged %d messages, only %d were sent on this connection", n, sent)
	}
	if n <= a.acked.Load() {
		return false, nil
	}
	a.acked.Store(n)
	if n < a.next.Load() {
		return false, nil // the oldest waiting batch is not complete yet
	}
	a.mu.Lock()
	var buf [AckWindow + 1]*Pending
	done := a.complete(n, buf[:0])
	a.mu.Unlock()
	a.resolveAll(done)
	return len(done) > 0, nil
}

// complete takes the batches that the count n completes out of the queue,
// appending them to done, and wakes whoever waits for the queue to shrink.
// Called with mu held.
func (a *acks) complete(n uint64, done []*Pending) []*Pending {
	k := 0
	for k < len(a.queue) && a.queue[k].Last <= n {
		done = append(done, a.queue[k])
		k++
	}
	if k == 0 {
		return done
	}
	rest := copy(a.queue, a.queue[k:])
	clear(a.queue[rest:])
	a.queue = a.queue[:rest]
	if rest > 0 {
		a.next.Store(a.queue[0].Last)
	} else {
		a.next.Store(noneWaiting)
	}
	close(a.progress)
	a.progress = make(chan struct{})
	return done
}

// resolveAll resolves batches the server acknowledged in full, taken out
// of the queue.
func (a *acks) resolveAll(done []*Pending) {
	if len(done) == 0 {
		return
	}
	now := time.Now()
	a.metrics.AwaitingAck(-len(done))
	for _, p := range done {
		a.metrics.AckLatency(now.Sub(p.written))
		a.resolve(p, p.Events)
	}
}

// fail resolves every waiting batch: what the server acknowledged counts,
// the rest goes back. Later adds are resolved the same way at once.
//
// The batches are resolved on a goroutine of their own, which nothing waits
// for: at shutdown libbeat stops its retryer before it closes the output, so
// a retry can block for good then, and it must not block Close.
func (a *acks) fail() {
	a.mu.Lock()
	a.failed = true
	queue, acked := a.queue, a.acked.Load()
	a.queue = nil
	a.next.Store(noneWaiting)
	a.mu.Unlock()
	if len(queue) == 0 {
		return
	}
	a.metrics.AwaitingAck(-len(queue))
	go func() {
		for _, p := range queue {
			a.resolve(p, p.ackedBy(acked))
		}
	}()
}

// resolve ends p: its first n events are delivered.
func (a *acks) resolve(p *Pending, n int) {
	if n == p.Events {
		a.delivered.Store(true)
	}
	p.Resolve(n)
}

// restartUnreached restarts the ack deadline of each waiting batch whose
// bytes have not all reached the server yet: its TCP acknowledged the
// socket's first tcpAcked bytes, and is taking more. On a slow link a
// batch's acknowledgement is due AckTimeout after it reached the server,
// not after it went into the socket buffer.
func (a *acks) restartUnreached(tcpAcked uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	due := time.Now().Add(a.timeout)
	for _, p := range a.queue {
		if p.wireEnd > tcpAcked && p.deadline.Before(due) {
			p.deadline = due
		}
	}
}

// waitRoom waits until fewer than AckWindow batches await acknowledgement,
// or dead is closed; it says whether there is room.
func (a *acks) waitRoom(dead <-chan struct{}) bool {
	for {
		progress, n := a.waiting()
		if n < AckWindow {
			return true
		}
		select {
		case <-progress:
		case <-dead:
			return false
		}
	}
}

// waitIdle waits, at most d, until nothing awaits acknowledgement or dead is
// closed.
func (a *acks) waitIdle(dead <-chan struct{}, d time.Duration) {
	timeout := time.After(d)
	for {
		progress, n := a.waiting()
		if n == 0 {
			return
		}
		select {
		case <-progress:
		case <-dead:
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
	last, acked := a.queue[len(a.queue)-1].Last, a.acked.Load()
	if acked > last { // the reader has the count, and is about to complete them
		acked = last
	}
	return a.queue[0].deadline, last - acked, true
}
