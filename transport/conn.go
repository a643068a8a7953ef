package transport

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
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

// Conn is one live WebSocket connection and the goroutines it owns: a
// reader (pongs, close frames, acks, liveness) and, when pings are
// enabled, a pinger. Data is written only by the publishing goroutine, so
// with pings sent through gorilla's concurrency-safe WriteControl the
// connection never has two writers. It numbers the data messages it
// writes, from 1, and with acknowledgements on it tracks the batches
// written on it until the server acknowledges them.
type Conn struct {
	ws      *websocket.Conn
	opts    *Options
	name    string // the server, as Display shows it
	metrics Metrics
	log     Logger
	ignored *RateLimited // server messages that are not acks
	acks    *acks        // nil when acknowledgements are off

	// sent numbers the data messages: the publishing goroutine increments
	// it before each write. fc, under gorilla, counts the same messages as
	// they reach the socket: what an ack may cover, and what a failed
	// write leaves delivered.
	sent atomic.Uint64
	fc   *frameConn
	// writing is set while the publisher writes data to the socket
	// (writingData); dataEnd is where the data written so far ends in the
	// socket's byte count (stallConn), so that the watcher can tell data
	// waiting to be taken from pings. Data held in fc is not in the
	// socket: the server cannot take it yet.
	writing atomic.Bool
	dataEnd atomic.Uint64
	sc      *stallConn // nil when the socket is not one (tests' dialers)

	deadlineMu sync.Mutex // orders read deadline updates from reader, watcher and publisher
	pongDue    time.Time  // when a pong is due, from the last sign of life; zero without pings
	// pingSkipped is set by the pinger when it skipped a ping because data
	// waited to be taken; the watcher takes it as data waiting.
	pingSkipped atomic.Bool
	extended    time.Time // when the reader last pushed the deadline on; the reader's

	born     time.Time     // when the handshake completed
	dead     chan struct{} // closed once the connection is unusable
	deadErr  error         // why; written before dead is closed
	loss     Loss          // the kind of why; written before dead is closed
	diedAt   time.Time     // when; written before dead is closed
	failOnce sync.Once

	stop      chan struct{} // closed by close: stops the pinger
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// newConn takes over ws, whose connection is fc, made by client, and
// starts its goroutines. With PingInterval 0 there are no pings, and no
// read deadline but that of an awaited ack. It counts the connection open
// (Metrics.Connected) until it ends.
func newConn(ws *websocket.Conn, fc *frameConn, client *Client) *Conn {
	fc.start()
	opts := &client.opts
	c := &Conn{
		ws:      ws,
		fc:      fc,
		opts:    opts,
		name:    client.name,
		metrics: client.metrics,
		log:     client.log,
		ignored: client.ignored,
		sc:      stallConnOf(ws.NetConn()),
		born:    time.Now(),
		dead:    make(chan struct{}),
		stop:    make(chan struct{}),
	}
	if opts.Acks {
		c.acks = newAcks(opts.AckTimeout, c.metrics)
	}
	c.metrics.Connected()
	ws.SetReadLimit(readLimit)
	fc.beforeRead = c.readingSocket
	fc.onData = c.writingData
	c.wg.Add(1)
	go c.read()
	if opts.PingInterval > 0 {
		c.wg.Add(1)
		go c.ping()
	}
	if c.sc != nil && (opts.PingInterval > 0 || opts.Acks) {
		c.wg.Add(1)
		go c.watch()
	}
	return c
}

// Write sends msg as one message of the given type (websocket.TextMessage
// or BinaryMessage), after the messages WriteMore held back, and returns
// the number it gave the message: when it returns nil, every message
// written so far is in the socket. Only the publishing goroutine may call
// it. A write fails only when it takes no bytes for Options.Timeout, not
// when a large message takes long on a slow link. On failure the
// connection is unusable, Flushed says which messages reached the socket,
// and the error says why, preferring the reader's diagnosis (a missing
// pong, a close frame) to the bare write error it caused; the write error
// is counted only if it is what ended the connection. A connection found
// dead gives no number (0). The error is a *LostError (the loss was logged
// with its reason when noticed), or ErrClosed after close.
func (c *Conn) Write(opcode int, msg []byte) (uint64, error) {
	return c.write(opcode, msg, false)
}

// WriteMore is Write for a message that more follow at once: it may wait
// in the connection's buffer, up to 64 KiB of frames, for the next Write
// (or a full buffer) to send it with the others in one system call. It
// returns nil when the message is either in the socket or held. Control
// frames never wait behind it, and Close discards what is held (it was
// never sent). The last message of a batch goes with Write.
func (c *Conn) WriteMore(opcode int, msg []byte) (uint64, error) {
	return c.write(opcode, msg, true)
}

func (c *Conn) write(opcode int, msg []byte, more bool) (uint64, error) {
	if err := c.lostErr(); err != nil {
		return 0, err
	}
	seq := c.sent.Add(1)
	c.fc.hold = more
	err := c.ws.WriteMessage(opcode, msg)
	if err != nil {
		c.failWrite(err)
		return seq, c.lostErr()
	}
	return seq, nil
}

// writingData is frameConn.onData: it runs around each write of data
// frames to the socket (not around messages WriteMore holds, which the
// server cannot take yet), so that the watcher and the pinger know data
// waits to be taken.
func (c *Conn) writingData(done bool) {
	if !done {
		c.writing.Store(true)
		return
	}
	if c.sc != nil {
		// Before writing is cleared, so that the watcher never sees
		// neither.
		c.dataEnd.Store(c.sc.written.Load())
	}
	c.writing.Store(false)
}

// Flushed is the number of the last message in the socket: every message
// up to it went out in writes that succeeded, those after it were not
// sent (held by WriteMore when the connection died, or in the write that
// failed). Only the publishing goroutine may call it.
func (c *Conn) Flushed() uint64 {
	return c.fc.flushed.Load()
}

// failWrite fails the connection with a write's error, counted as a write
// error if that is what the connection died of. Not if we are closing it:
// the close frame we sent makes gorilla refuse further writes. Nor if the
// server closed it: gorilla answered its close frame, which the reader is
// about to report.
func (c *Conn) failWrite(err error) {
	select {
	case <-c.stop:
		c.fail(ErrClosed, NotLost, nil)
		return
	default:
	}
	if errors.Is(err, websocket.ErrCloseSent) {
		select {
		case <-c.dead:
		case <-time.After(closeWait):
			// The reader got the close frame (gorilla answered it) and
			// has not said so: counted as the reader would have.
			c.fail(fmt.Errorf("write: %w", err), LostCloseFrame, func() { c.metrics.ReadError(err) })
		}
		return
	}
	reason := fmt.Errorf("write: %w", err)
	if netErr := net.Error(nil); errors.As(err, &netErr) && netErr.Timeout() {
		reason = fmt.Errorf("write: no bytes taken for %v (timeout): %w", c.opts.Timeout, err)
	}
	c.fail(reason, LostWriteError, func() { c.metrics.WriteError(err) })
}

// Sent is the number of data messages written so far: the next one gets
// Sent()+1.
func (c *Conn) Sent() uint64 {
	return c.sent.Load()
}

// Acked is how many messages the server has acknowledged so far: for
// diagnostics and tests. 0 without acks.
func (c *Conn) Acked() uint64 {
	if c.acks == nil {
		return 0
	}
	return c.acks.acked.Load()
}

// Acks says whether the server acknowledges what it receives: batches
// written on this connection go to Await, or to Abandon when writing them
// failed.
func (c *Conn) Acks() bool {
	return c.acks != nil
}

// Await takes over p, a batch whose messages p.First to p.Last were all
// written: p.Resolve is called once the server has acknowledged them, or
// with what it acknowledged once the connection dies. Only the publishing
// goroutine may call it, and only with acks on.
func (c *Conn) Await(p *Pending) {
	p.wireEnd = c.dataEnd.Load()
	p.written = time.Now()
	c.acks.add(p)
	c.extend(false) // the ack deadline may now be the nearest; no sign of life
}

// Abandon resolves p, a batch whose writing failed on this connection (a
// Write returned an error, so the connection is dead): p.Resolve is called
// at once with what the server acknowledged of it. Only with acks on.
func (c *Conn) Abandon(p *Pending) {
	c.acks.abandon(p)
}

// Done is closed once the connection is unusable; Err then says why.
func (c *Conn) Done() <-chan struct{} {
	return c.dead
}

// Err returns why the connection died, or nil while it is alive.
func (c *Conn) Err() error {
	select {
	case <-c.dead:
		return c.deadErr
	default:
		return nil
	}
}

// usable waits, with acks on, until fewer than AckWindow batches await
// acknowledgement; it returns why the connection died (lostErr) if it dies
// first, or died before.
func (c *Conn) usable() error {
	if err := c.lostErr(); err != nil || c.acks == nil {
		return err
	}
	if !c.acks.waitRoom(c.dead) {
		return c.lostErr()
	}
	return nil
}

// fail marks the connection dead with the first reason given and closes the
// socket, which unblocks a write stuck on a dead peer. Batches awaiting an
// ack are resolved with what the server acknowledged. A loss (anything but
// NotLost, the client's own close) is logged with its reason, at once and
// once. Safe from any goroutine.
//
// count, if not nil, counts the failure in the Metrics, and is called only
// if err is the first reason, the one the connection dies of: each failure
// is counted once, where it happened. The acknowledgements are settled and
// the failure counted before the connection is seen dead: whoever finds it
// dead may resolve a batch against them, or read the counts, at once.
func (c *Conn) fail(err error, loss Loss, count func()) {
	c.failOnce.Do(func() {
		if count != nil {
			count()
		}
		c.metrics.Disconnected(loss)
		if c.acks != nil {
			c.acks.fail()
		}
		c.deadErr = err
		c.loss = loss
		c.diedAt = time.Now()
		if loss != NotLost {
			c.logLost(err) // before anyone can see it dead and say so
		}
		close(c.dead)
		c.ws.Close()
	})
}

// healthy says whether the connection proved itself before it died: the
// server acknowledged a batch on it, or it stayed up for at least d. A
// handshake alone proves nothing: a server may accept and drop every
// connection. Call it once the connection is dead.
func (c *Conn) healthy(d time.Duration) bool {
	if c.acks != nil && c.acks.delivered.Load() {
		return true
	}
	end := time.Now()
	if c.Err() != nil {
		end = c.diedAt
	}
	return end.Sub(c.born) >= d
}

// close ends the connection with a normal close frame and waits, at most
// closeWait, for the server's answer, then for both goroutines to exit.
// With acks on, it first gives outstanding acks up to closeWait to arrive.
// Idempotent and safe from any goroutine.
func (c *Conn) close() {
	c.closeOnce.Do(func() {
		if c.acks != nil {
			c.acks.waitIdle(c.dead, closeWait)
		}
		close(c.stop)
		if c.Err() == nil {
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
			if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeWait)); err == nil {
				select {
				case <-c.dead: // the reader got the server's close frame
				case <-time.After(closeWait):
				}
			}
		}
		c.fail(ErrClosed, NotLost, nil)
		c.wg.Wait()
	})
}
