package transport

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// stallConn is a TCP connection whose writes fail only when they make no
// progress: a write may take as long as it needs while the peer keeps
// taking bytes, and fails once it has taken none for timeout. A deadline on
// the whole write would fail every large message on a slow but working
// link, every time it is retried; and over TLS a write that timed out
// leaves the connection unusable, so the deadline cannot be re-armed above
// TLS. stallConn sits under TLS, where a timed-out write that made
// progress can go on.
//
// Progress is bytes the kernel took from the write, or bytes the peer's
// TCP acknowledged (acknowledged): a writer blocked on a full send buffer
// is let in only once a good part of it is free, which on a slow link can
// take far longer than timeout while the peer keeps taking data. A window
// with neither ends the write. So a peer that stops taking data is noticed
// within three windows of its last progress at worst: one in which the
// kernel fills its buffer, one in which the acknowledgements of what was
// in flight arrive, and one without either. (Acknowledgements come in
// steps of up to a segment, 64 KiB on loopback: a window must not end the
// write for falling between two of them while the kernel still takes
// data.)
//
// Deadlines set by the layers above (the handshake's, a control frame's)
// still bound a write: a write fails at the earlier of its own deadline and
// timeout without progress.
type stallConn struct {
	net.Conn
	timeout time.Duration
	written atomic.Uint64 // bytes the kernel took from Write

	// The peer's acknowledged bytes when a window last ended; used by
	// Write only, which one goroutine at a time calls.
	base     uint64
	haveBase bool

	mu       sync.Mutex
	deadline time.Time // the write deadline set from above; zero: none
	writing  bool
	window   time.Time // while writing: the end of the current window
}

func newStallConn(conn net.Conn, timeout time.Duration) *stallConn {
	return &stallConn{Conn: conn, timeout: timeout}
}

// stallConnOf finds the stallConn under conn, which may be a TLS connection
// or another wrapper with a NetConn method; nil if there is none.
func stallConnOf(conn net.Conn) *stallConn {
	for conn != nil {
		if sc, ok := conn.(*stallConn); ok {
			return sc
		}
		inner, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		conn = inner.NetConn()
	}
	return nil
}

// Write writes p, giving each window of timeout in which the write made
// progress another one.
func (c *stallConn) Write(p []byte) (int, error) {
	written := 0
	for {
		c.mu.Lock()
		c.writing = true
		c.window = time.Now().Add(c.timeout)
		err := c.Conn.SetWriteDeadline(c.effective())
		c.mu.Unlock()
		if err != nil {
			return written, err
		}
		n, err := c.Conn.Write(p[written:])
		written += n
		c.written.Add(uint64(n))

		c.mu.Lock()
		c.writing = false
		fromAbove := !c.deadline.IsZero() && !time.Now().Before(c.deadline)
		c.mu.Unlock()
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) || fromAbove {
			return written, err
		}
		if !c.moved(n) {
			return written, err
		}
	}
}

// moved says whether a window that just ended, in which the kernel took n
// bytes, saw progress.
func (c *stallConn) moved(n int) bool {
	acked, ok := c.acknowledged()
	if !ok {
		return n > 0
	}
	moved := n > 0 || !c.haveBase || acked > c.base
	c.base, c.haveBase = acked, true
	return moved
}

// effective is the write deadline to set: the end of the current window,
// or the deadline from above if that comes first. Called with mu held.
func (c *stallConn) effective() time.Time {
	if !c.writing || (!c.deadline.IsZero() && c.deadline.Before(c.window)) {
		return c.deadline
	}
	return c.window
}

// SetWriteDeadline sets the deadline from above. Safe during a Write, as
// when a dial is cancelled by setting a deadline in the past.
func (c *stallConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return c.Conn.SetWriteDeadline(c.effective())
}

// SetDeadline sets the read deadline and the write deadline from above.
func (c *stallConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// acknowledged returns how many of the bytes written its peer's TCP has
// acknowledged; ok is false where the system does not tell (bytesAcked).
func (c *stallConn) acknowledged() (acked uint64, ok bool) {
	return bytesAcked(c.Conn)
}
