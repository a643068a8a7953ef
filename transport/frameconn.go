package transport

import (
	"net"
	"sync/atomic"
	"time"
)

// coalesceSize is frameConn's buffer: data frames held back are written
// once this much has gathered, in one system call, instead of one each.
// 64 KiB is a few hundred events of a usual log and what one write of the
// socket takes at once on loopback.
const coalesceSize = 64 << 10

// The first byte of a WebSocket frame (RFC 6455, 5.2): the FIN bit, which
// ends a message, and the opcode, of which 0x8 and above are control frames.
const (
	finBit       = 0x80
	opcodeMask   = 0x0f
	firstControl = 0x8 // close; 0x9 ping, 0xa pong
	closeOpcode  = 0x8
)

// frameConn is the connection gorilla writes to, above TLS, so that it sees
// whole frames: gorilla writes a client's every frame, masked, in one Write
// (it has no other way to write one: conn.go's flushFrame refuses "extra"
// in client mode) and always under its write lock. That lock orders every
// Write here, so what frameConn holds needs no lock of its own.
//
// Data frames of a message written with hold set (Conn.WriteMore) wait in
// a buffer until a message without it (Conn.Write) or a full buffer sends
// them, in one write: a batch of frame: event messages costs a few system
// calls instead of one per event. The message boundaries on the wire are
// the same; only the system calls change. Control frames never wait: a ping
// or pong goes out at once, ahead of held data frames, which is allowed
// between frames (RFC 6455, 5.4); a close frame discards what is held, as
// nothing may follow it, and those messages were never sent.
//
// It counts data messages, in the order gorilla writes them, as the
// connection numbers them: wire is how many were handed to the socket
// (counted before the write, so that an ack cannot outrun it), flushed how
// many of those went in writes that succeeded. Before start it passes
// everything through: the handshake.
type frameConn struct {
	net.Conn
	buf      []byte    // held data frames, all whole; nil before start
	queued   uint64    // messages whose last frame is in buf
	hold     bool      // the message being written may wait: set by the publisher around its write
	deadline time.Time // the write deadline last set

	// beforeRead, if not nil, runs before each read of the socket: the
	// reader, about to wait for the server, pushes its read deadline on.
	// Set before the reader starts; only the reader reads.
	beforeRead func()
	// onData, if not nil, runs before (false) and after (true) each write
	// of data frames to the socket. Set before the first data frame.
	onData func(done bool)

	wire    atomic.Uint64
	flushed atomic.Uint64
}

// start turns coalescing on once the handshake is done.
func (c *frameConn) start() {
	c.buf = make([]byte, 0, coalesceSize)
}

// NetConn is the connection under this one, for stallConnOf.
func (c *frameConn) NetConn() net.Conn {
	return c.Conn
}

// SetWriteDeadline sets the write deadline, unless it is already set:
// gorilla sets one before every frame, the same zero one for every data
// frame, and setting one updates a timer of the runtime's poller, which
// costs more than writing a small frame into the buffer.
func (c *frameConn) SetWriteDeadline(t time.Time) error {
	if t.Equal(c.deadline) {
		return nil
	}
	c.deadline = t
	return c.Conn.SetWriteDeadline(t)
}

// SetDeadline sets the read and write deadlines.
func (c *frameConn) SetDeadline(t time.Time) error {
	c.deadline = t
	return c.Conn.SetDeadline(t)
}

// Read reads from the socket, once gorilla has handled all it had read.
func (c *frameConn) Read(p []byte) (int, error) {
	if c.beforeRead != nil {
		c.beforeRead()
	}
	return c.Conn.Read(p)
}

// Write takes one frame from gorilla.
func (c *frameConn) Write(p []byte) (int, error) {
	if c.buf == nil || len(p) == 0 {
		return c.Conn.Write(p)
	}
	if op := p[0] & opcodeMask; op >= firstControl {
		if op == closeOpcode {
			c.buf, c.queued = c.buf[:0], 0
		}
		return c.Conn.Write(p)
	}
	ends := uint64(0)
	if p[0]&finBit != 0 {
		ends = 1
	}
	// Held, or after held frames in one write, if it fits.
	if len(p) <= cap(c.buf)-len(c.buf) && (c.hold || len(c.buf) > 0) {
		c.buf = append(c.buf, p...)
		c.queued += ends
		if c.hold {
			return len(p), nil
		}
		return len(p), c.flush()
	}
	if err := c.flush(); err != nil {
		return 0, err
	}
	if c.hold && len(p) < cap(c.buf) {
		c.buf = append(c.buf, p...)
		c.queued += ends
		return len(p), nil
	}
	return c.write(p, ends)
}

// flush writes the held frames.
func (c *frameConn) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.write(c.buf, c.queued)
	c.buf, c.queued = c.buf[:0], 0
	return err
}

// write hands p, which completes ends messages, to the socket. Everything
// written before went out before it, so once it succeeds every message
// handed to the socket so far has been.
func (c *frameConn) write(p []byte, ends uint64) (int, error) {
	wire := c.wire.Add(ends)
	if c.onData != nil {
		c.onData(false)
	}
	n, err := c.Conn.Write(p)
	if c.onData != nil {
		c.onData(true)
	}
	if err == nil {
		c.flushed.Store(wire)
	}
	return n, err
}
