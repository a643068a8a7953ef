package transport

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// A connection's reader and pinger, and how they decide it is alive: the
// server answers pings, acknowledges in time, or at least takes the data
// queued ahead of a ping.

// extendEvery is how often, at most, the reader pushes the read deadline
// on while the server sends message after message (a server may
// acknowledge every one): setting a deadline updates a timer in the
// runtime, too dear for every message. The pong deadline is set as much
// later, so that a server that stops answering is declared dead at most
// this much after ping_timeout, never before.
const extendEvery = 10 * time.Millisecond

// read owns all reads: it handles acks, extends the read deadline whenever
// the server shows life (a pong or any frame) and marks the connection dead
// on the first error, a close frame from the server included. A deadline
// bounds only reads of the socket, so for the frames of a stream it is
// pushed on before the reader next waits for the socket (readingSocket), at most
// every extendEvery; and whenever an ack completes a batch, as the next
// batch's ack may be due later.
func (c *Conn) read() {
	defer c.wg.Done()
	c.ws.SetPongHandler(func(string) error {
		c.extend(true)
		return nil
	})

	var msg bytes.Buffer
	c.extended = time.Now()
	c.extend(true)
	for {
		typ, r, err := c.ws.NextReader()
		if err != nil {
			c.failRead(err)
			return
		}
		msg.Reset()
		n, err := msg.ReadFrom(r)
		c.metrics.ReadBytes(int(n))
		if err != nil {
			c.failRead(err)
			return
		}
		completed, err := c.handle(typ, msg.Bytes())
		if err != nil {
			c.fail(err, LostReadError, func() { c.metrics.ReadError(err) })
			return
		}
		if completed {
			c.extended = time.Now()
			c.extend(true)
		}
	}
}

// readingSocket runs before the reader reads the socket (frameConn.beforeRead):
// the frames read since the last extension showed life, so the deadline is
// pushed on if it was set extendEvery ago or more. Time.Since reads one
// clock, time.Now two: this runs once per read of the socket, not per
// message.
func (c *Conn) readingSocket() {
	if time.Since(c.extended) >= extendEvery {
		c.extended = time.Now()
		c.extend(true)
	}
}

// handle acts on a message from the server, and says whether it completed
// a batch. Without acks nothing the server sends means anything; with acks
// a text message is an ack, and anything else is ignored with a
// rate-limited warning. An impossible ack is a protocol error, which ends
// the connection: a count beyond the messages in the socket (those that
// WriteMore holds were not sent).
func (c *Conn) handle(typ int, msg []byte) (completed bool, err error) {
	if c.acks == nil {
		return false, nil
	}
	if typ != websocket.TextMessage {
		c.ignored.Report(fmt.Errorf("%w: a binary message of %d bytes", protocol.ErrNotAck, len(msg)))
		return false, nil
	}
	n, err := protocol.ParseAck(msg)
	if err != nil {
		c.ignored.Report(err)
		return false, nil
	}
	return c.acks.ack(n, c.fc.wire.Load())
}

// extend sets the read deadline: the earlier of when a pong is due and
// when the oldest awaited ack is. With life (the server showed it: a pong,
// any frame, its TCP taking our data), a pong is due within PingInterval +
// PingTimeout from now (a pong for the ping sent at the end of an interval
// is due within PingTimeout after it; and extendEvery more); without, the
// pong deadline stands and only the ack deadline may have moved (a batch
// began waiting: the publisher's Await). Called by the reader, the watcher
// and the publisher.
func (c *Conn) extend(life bool) {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	if life && c.opts.PingInterval > 0 {
		c.pongDue = time.Now().Add(c.opts.PingInterval + c.opts.PingTimeout + extendEvery)
	}
	deadline := c.pongDue
	if c.acks != nil {
		if due, _, ok := c.acks.overdue(); ok && (deadline.IsZero() || due.Before(deadline)) {
			deadline = due
		}
	}
	// An error here resurfaces on the next read.
	_ = c.ws.SetReadDeadline(deadline)
}

// failRead fails the connection with what the reader saw, and counts it as
// a read error if that is what the connection died of: not if we are
// closing it (the read error is our own doing), nor if it failed elsewhere
// first (a failed write closes the socket under the reader).
func (c *Conn) failRead(err error) {
	select {
	case <-c.stop:
		c.fail(ErrClosed, NotLost, nil)
		return
	default:
	}
	loss, reason := c.readError(err)
	c.fail(reason, loss, func() { c.metrics.ReadError(err) })
}

// readError turns what the reader saw into the kind of loss and the reason
// the connection died.
func (c *Conn) readError(err error) (Loss, error) {
	var closeErr *websocket.CloseError
	var netErr net.Error
	switch {
	case errors.As(err, &closeErr) && closeErr.Code == websocket.CloseAbnormalClosure:
		// gorilla's name for a connection that ended without a close
		// frame (1006 is never sent): the server's process or host went
		// away.
		return LostReadError, fmt.Errorf("server closed the connection: %w", err)
	case errors.As(err, &closeErr):
		return LostCloseFrame, fmt.Errorf("server closed the connection: %w", err)
	case errors.Is(err, websocket.ErrReadLimit):
		return LostReadError, fmt.Errorf("server sent a message over the %d KiB read limit (a server sends only acks and control frames): %w", readLimit>>10, err)
	case errors.As(err, &netErr) && netErr.Timeout():
		if c.acks != nil {
			if due, pending, ok := c.acks.overdue(); ok && !time.Now().Before(due) {
				return LostAckTimeout, fmt.Errorf("no acknowledgement within ack.timeout (%v) for %d message(s): connection presumed stuck", c.opts.AckTimeout, pending)
			}
		}
		return LostPongTimeout, fmt.Errorf("no pong within ping_timeout (%v): connection presumed dead", c.opts.PingTimeout)
	default:
		return LostReadError, fmt.Errorf("read: %w", err)
	}
}

// waiting says whether data the publisher wrote still waits for the
// server's TCP to take it, acked being the bytes it acknowledged: the
// server is then busy with our data, and a ping would queue behind it.
func (c *Conn) waiting(acked uint64) bool {
	return c.writing.Load() || acked < c.dataEnd.Load()
}

// watch watches, four times per the shorter of PingTimeout (with pings)
// and AckTimeout (with acks), whether the server takes the data written to
// it, until the connection closes or dies.
//
// On a slow link data waits in the socket buffer: a ping queued behind it
// can be answered long after PingTimeout, and a batch acknowledged long
// after AckTimeout from when it went into the buffer. So, while data
// waits to be taken (or did at the last check) and the server's TCP has
// acknowledged more of our bytes since, the server is alive: its pong
// deadline is extended, and the ack deadline of each batch whose bytes
// have not all reached it starts again. Bytes of pings alone never count:
// a peer's kernel acknowledges them even when the server itself is stuck.
// Without the count from the system (bytesAcked), deadlines run as they
// are.
func (c *Conn) watch() {
	defer c.wg.Done()
	period := c.opts.AckTimeout
	if c.opts.PingInterval > 0 {
		period = c.opts.PingTimeout
		if c.acks != nil {
			period = min(period, c.opts.AckTimeout)
		}
	}
	checks := time.NewTicker(max(period/4, 10*time.Millisecond))
	defer checks.Stop()
	var acked uint64
	backlog := false
	for {
		select {
		case <-c.stop:
			return
		case <-c.dead:
			return
		case <-checks.C:
		}
		n, ok := c.sc.acknowledged()
		if !ok {
			continue
		}
		// The pinger too may have seen data waiting (and skipped its
		// ping), between two of these checks: a short write on a fast
		// link, which none of them saw.
		waiting := c.waiting(n) || c.pingSkipped.Swap(false)
		if n > acked && (backlog || waiting) {
			if c.acks != nil {
				c.acks.restartUnreached(n)
			}
			c.extend(true)
		}
		acked, backlog = n, waiting
	}
}

// ping sends a ping every PingInterval until the connection closes or
// dies, unless data waits to be taken then: the watcher follows the server
// by its TCP instead. A ping that cannot be sent is not itself a verdict:
// the reader's deadline decides whether the peer is alive. A ping waits
// for the data frame being written, and has no deadline of its own: a
// write that takes no bytes fails by the connection's timeout (stallConn),
// a ping like any other.
func (c *Conn) ping() {
	defer c.wg.Done()
	t := time.NewTicker(c.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.dead:
			return
		case <-t.C:
		}
		if c.sc != nil {
			if n, ok := c.sc.acknowledged(); ok && c.waiting(n) {
				c.pingSkipped.Store(true) // the watcher follows the data's progress
				continue
			}
		}
		_ = c.ws.WriteControl(websocket.PingMessage, nil, time.Time{})
	}
}
