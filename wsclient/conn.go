package wsclient

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/elastic/beats/v7/libbeat/outputs"
)

const (
	// readLimit bounds what the server may send in one message. The server
	// has nothing to say in this protocol beyond control frames, so a large
	// message is hostile and ends the connection rather than the heap.
	readLimit = 64 << 10

	// closeWait is how long Close waits for the server to answer our close
	// frame. Waiting lets the server read everything we sent before the
	// TCP connection goes away.
	closeWait = time.Second
)

// conn is one live WebSocket connection and the two goroutines it owns:
// a reader (pongs, close frames, liveness) and, when pings are enabled, a
// pinger. Data is written only by the client's publishing goroutine, so with
// pings sent through gorilla's concurrency-safe WriteControl the connection
// never has two writers.
type conn struct {
	ws       *websocket.Conn
	observer outputs.Observer

	dead     chan struct{} // closed once the connection is unusable
	deadErr  error         // why; written before dead is closed
	failOnce sync.Once

	stop      chan struct{} // closed by close: stops the pinger
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// newConn takes over ws and starts its goroutines. With pingInterval 0 there
// are no pings and no read deadline.
func newConn(ws *websocket.Conn, observer outputs.Observer, pingInterval, pingTimeout time.Duration) *conn {
	c := &conn{
		ws:       ws,
		observer: observer,
		dead:     make(chan struct{}),
		stop:     make(chan struct{}),
	}
	ws.SetReadLimit(readLimit)
	c.wg.Add(1)
	go c.read(pingInterval, pingTimeout)
	if pingInterval > 0 {
		c.wg.Add(1)
		go c.ping(pingInterval, pingTimeout)
	}
	return c
}

// write sends msg as one message of the given type (websocket.TextMessage
// or BinaryMessage). Only the publishing goroutine may call it. On failure
// the connection is unusable and the error says why, preferring the
// reader's diagnosis (a missing pong, a close frame) to the bare write
// error it caused.
func (c *conn) write(opcode int, msg []byte, timeout time.Duration) error {
	if err := c.err(); err != nil {
		return err
	}
	if err := c.ws.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if err := c.ws.WriteMessage(opcode, msg); err != nil {
		c.fail(fmt.Errorf("write: %w", err))
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
// socket, which unblocks a write stuck on a dead peer. Safe from any goroutine.
func (c *conn) fail(err error) {
	c.failOnce.Do(func() {
		c.deadErr = err
		close(c.dead)
		c.ws.Close()
	})
}

// close ends the connection with a normal close frame and waits, at most
// closeWait, for the server's answer, then for both goroutines to exit.
// Idempotent and safe from any goroutine.
func (c *conn) close() {
	c.closeOnce.Do(func() {
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
		c.fail(errClosed)
		c.wg.Wait()
	})
}

// read owns all reads: it extends the read deadline whenever the server
// shows life (a pong or any frame) and marks the connection dead on the
// first error, a close frame from the server included.
func (c *conn) read(pingInterval, pingTimeout time.Duration) {
	defer c.wg.Done()

	// A pong for the ping sent at the end of an interval is due within
	// pingTimeout after it.
	window := pingInterval + pingTimeout
	extend := func() {
		if pingInterval > 0 {
			// An error here resurfaces on the next read.
			_ = c.ws.SetReadDeadline(time.Now().Add(window))
		}
	}
	c.ws.SetPongHandler(func(string) error {
		extend()
		return nil
	})

	for {
		extend()
		_, r, err := c.ws.NextReader()
		if err != nil {
			c.fail(c.readError(err, pingTimeout))
			return
		}
		// Nothing the server sends is meaningful yet; count and discard it.
		n, err := io.Copy(io.Discard, r)
		c.observer.ReadBytes(int(n))
		if err != nil {
			c.fail(c.readError(err, pingTimeout))
			return
		}
	}
}

// readError turns what the reader saw into the reason the connection died,
// and counts it as a read error unless the connection was already closed
// or failed elsewhere (a failed write closes the socket under the reader).
func (c *conn) readError(err error, pingTimeout time.Duration) error {
	select {
	case <-c.stop:
		return errClosed // we are closing; the read error is our own doing
	case <-c.dead:
		return c.deadErr
	default:
	}
	c.observer.ReadError(err)

	var closeErr *websocket.CloseError
	var netErr net.Error
	switch {
	case errors.As(err, &closeErr):
		return fmt.Errorf("server closed the connection: %w", err)
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("no pong within ping_timeout (%v): connection presumed dead", pingTimeout)
	default:
		return fmt.Errorf("read: %w", err)
	}
}

// ping sends a ping every interval until the connection closes or dies. A
// ping that cannot be sent is not itself a verdict: the reader's deadline
// decides whether the peer is alive.
func (c *conn) ping(interval, timeout time.Duration) {
	defer c.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.dead:
			return
		case <-t.C:
			_ = c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(timeout))
		}
	}
}
