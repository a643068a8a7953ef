package wsclient

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/elastic/beats/v7/libbeat/outputs"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

const (
	// readLimit bounds what the server may send in one message. The server
	// has nothing to say in this protocol beyond control frames and short
	// acks, so a large message is hostile and ends the connection rather
	// than the heap.
	readLimit = 64 << 10

	// closeWait is how long Close waits for the server to answer our close
	// frame. Waiting lets the server read everything we sent before the
	// TCP connection goes away.
	closeWait = time.Second
)

// connConfig is what a connection needs from its client's configuration.
type connConfig struct {
	observer     outputs.Observer
	pingInterval time.Duration // 0: no pings
	pingTimeout  time.Duration
	ackTimeout   time.Duration   // 0: acknowledgements are off
	stall        time.Duration   // timeout: how long a write may take no bytes
	ignored      *limitedWarning // server messages that are not acks
}

// conn is one live WebSocket connection and the two goroutines it owns:
// a reader (pongs, close frames, acks, liveness) and, when pings are
// enabled, a pinger. Data is written only by the client's publishing
// goroutine, so with pings sent through gorilla's concurrency-safe
// WriteControl the connection never has two writers.
type conn struct {
	ws *websocket.Conn
	connConfig
	acks *acks // nil when acknowledgements are off

	deadlineMu sync.Mutex // orders read deadline updates from reader and publisher

	born     time.Time     // when the handshake completed
	dead     chan struct{} // closed once the connection is unusable
	deadErr  error         // why; written before dead is closed
	diedAt   time.Time     // when; written before dead is closed
	failOnce sync.Once

	stop      chan struct{} // closed by close: stops the pinger
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// newConn takes over ws and starts its goroutines. With pingInterval 0 there
// are no pings, and no read deadline but that of an awaited ack.
func newConn(ws *websocket.Conn, cfg connConfig) *conn {
	c := &conn{
		ws:         ws,
		connConfig: cfg,
		born:       time.Now(),
		dead:       make(chan struct{}),
		stop:       make(chan struct{}),
	}
	if cfg.ackTimeout > 0 {
		c.acks = newAcks(cfg.observer, cfg.ackTimeout)
	}
	ws.SetReadLimit(readLimit)
	c.wg.Add(1)
	go c.read()
	if cfg.pingInterval > 0 {
		c.wg.Add(1)
		go c.ping()
	}
	return c
}

// write sends msg as one message of the given type (websocket.TextMessage
// or BinaryMessage). Only the publishing goroutine may call it. A write
// fails only when it takes no bytes for the stall timeout (stallConn), not
// when a large message takes long on a slow link. On failure the
// connection is unusable and the error says why, preferring the reader's
// diagnosis (a missing pong, a close frame) to the bare write error it
// caused; the write error is counted only if it is what ended the
// connection.
func (c *conn) write(opcode int, msg []byte) error {
	if err := c.err(); err != nil {
		return err
	}
	if c.acks != nil {
		c.acks.sent.Add(1) // before the write, so that the ack cannot come first
	}
	if err := c.ws.WriteMessage(opcode, msg); err != nil {
		reason := fmt.Errorf("write: %w", err)
		if netErr := net.Error(nil); errors.As(err, &netErr) && netErr.Timeout() {
			reason = fmt.Errorf("write: no bytes taken for %v (timeout): %w", c.stall, err)
		}
		c.fail(reason, func() { c.observer.WriteError(err) })
		return c.err()
	}
	return nil
}

// err returns why the connection died, or nil while it is alive.
func (c *conn) err() error {
	select {
	case <-c.dead:
		return c.deadErr
	default:
		return nil
	}
}

// fail marks the connection dead with the first reason given and closes the
// socket, which unblocks a write stuck on a dead peer. Batches awaiting an
// ack go back to libbeat, less what the server acknowledged. Safe from any
// goroutine.
//
// count, if not nil, counts the failure in the Observer, and is called only
// if err is the first reason, the one the connection dies of: each failure
// is counted once, where it happened. The acknowledgements are settled and
// the failure counted before the connection is seen dead: whoever finds it
// dead may resolve a batch against them, or read the counts, at once.
func (c *conn) fail(err error, count func()) {
	c.failOnce.Do(func() {
		if count != nil {
			count()
		}
		if c.acks != nil {
			c.acks.fail()
		}
		c.deadErr = err
		c.diedAt = time.Now()
		close(c.dead)
		c.ws.Close()
	})
}

// healthy says whether the connection proved itself before it died: the
// server acknowledged a batch on it, or it stayed up for at least d. A
// handshake alone proves nothing: a server may accept and drop every
// connection. Call it once the connection is dead.
func (c *conn) healthy(d time.Duration) bool {
	if c.acks != nil && c.acks.delivered.Load() {
		return true
	}
	end := time.Now()
	if c.err() != nil {
		end = c.diedAt
	}
	return end.Sub(c.born) >= d
}

// close ends the connection with a normal close frame and waits, at most
// closeWait, for the server's answer, then for both goroutines to exit.
// With acks on, it first gives outstanding acks up to closeWait to arrive.
// Idempotent and safe from any goroutine.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		if c.acks != nil {
			c.acks.waitIdle(c, closeWait)
		}
		close(c.stop)
		if c.err() == nil {
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
			if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeWait)); err == nil {
				select {
				case <-c.dead: // the reader got the server's close frame
				case <-time.After(closeWait):
				}
			}
		}
		c.fail(errClosed, nil)
		c.wg.Wait()
	})
}

// read owns all reads: it handles acks, extends the read deadline whenever
// the server shows life (a pong or any frame) and marks the connection dead
// on the first error, a close frame from the server included.
func (c *conn) read() {
	defer c.wg.Done()
	c.ws.SetPongHandler(func(string) error {
		c.extend()
		return nil
	})

	var msg bytes.Buffer
	for {
		c.extend()
		typ, r, err := c.ws.NextReader()
		if err != nil {
			c.failRead(err)
			return
		}
		msg.Reset()
		n, err := msg.ReadFrom(r)
		c.observer.ReadBytes(int(n))
		if err != nil {
			c.failRead(err)
			return
		}
		if err := c.handle(typ, msg.Bytes()); err != nil {
			c.fail(err, func() { c.observer.ReadError(err) })
			return
		}
	}
}

// handle acts on a message from the server. Without acks nothing the server
// sends means anything; with acks a text message is an ack, and anything
// else is ignored with a rate-limited warning. An impossible ack is a
// protocol error, which ends the connection.
func (c *conn) handle(typ int, msg []byte) error {
	if c.acks == nil {
		return nil
	}
	if typ != websocket.TextMessage {
		c.ignored.report(fmt.Errorf("%w: a binary message of %d bytes", protocol.ErrNotAck, len(msg)))
		return nil
	}
	n, err := protocol.ParseAck(msg)
	if err != nil {
		c.ignored.report(err)
		return nil
	}
	return c.acks.ack(n)
}

// extend sets the read deadline: a pong is due within pingInterval +
// pingTimeout (a pong for the ping sent at the end of an interval is due
// within pingTimeout after it), and the oldest awaited ack by its deadline.
// Called by the reader whenever the server shows life, and by the publisher
// when a batch starts waiting for its ack.
func (c *conn) extend() {
	var deadline time.Time
	if c.pingInterval > 0 {
		deadline = time.Now().Add(c.pingInterval + c.pingTimeout)
	}
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
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
func (c *conn) failRead(err error) {
	select {
	case <-c.stop:
		c.fail(errClosed, nil)
		return
	default:
	}
	c.fail(c.readError(err), func() { c.observer.ReadError(err) })
}

// readError turns what the reader saw into the reason the connection died.
func (c *conn) readError(err error) error {
	var closeErr *websocket.CloseError
	var netErr net.Error
	switch {
	case errors.As(err, &closeErr):
		return fmt.Errorf("server closed the connection: %w", err)
	case errors.Is(err, websocket.ErrReadLimit):
		return fmt.Errorf("server sent a message over the %d KiB read limit (a server sends only acks and control frames): %w", readLimit>>10, err)
	case errors.As(err, &netErr) && netErr.Timeout():
		if c.acks != nil {
			if due, pending, ok := c.acks.overdue(); ok && !time.Now().Before(due) {
				return fmt.Errorf("no acknowledgement within ack.timeout (%v) for %d message(s): connection presumed stuck", c.ackTimeout, pending)
			}
		}
		return fmt.Errorf("no pong within ping_timeout (%v): connection presumed dead", c.pingTimeout)
	default:
		return fmt.Errorf("read: %w", err)
	}
}

// ping sends a ping every interval until the connection closes or dies. A
// ping that cannot be sent is not itself a verdict: the reader's deadline
// decides whether the peer is alive.
//
// On a slow link a ping waits behind the data already in the socket
// buffer, and its pong can come long after ping_timeout. So, checking
// twice per ping_timeout, while data waited to be taken at the last check,
// a peer whose TCP has acknowledged more of it since is alive too, and its
// deadline is extended. Pings alone never extend it: a peer's kernel
// acknowledges them even when the server itself is stuck.
func (c *conn) ping() {
	defer c.wg.Done()
	pings := time.NewTicker(c.pingInterval)
	defer pings.Stop()
	checks := time.NewTicker(c.pingTimeout / 2)
	defer checks.Stop()
	sc := stallConnOf(c.ws.NetConn())
	var acked uint64
	backlog := false
	for {
		select {
		case <-c.stop:
			return
		case <-c.dead:
			return
		case <-checks.C:
			if sc == nil {
				continue
			}
			n, pending, ok := sc.acknowledged()
			if ok && backlog && n > acked {
				c.extend()
			}
			acked, backlog = n, ok && pending > 0
		case <-pings.C:
			_ = c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.pingTimeout))
		}
	}
}
