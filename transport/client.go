package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jpillora/backoff"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// Client is the connection to one server, made and made again: Connect
// dials, after an exponential, jittered backoff once something failed; Conn
// is the live connection; Lost drops one that failed. See the package's
// concurrency contract. Close is final: afterwards Connect fails.
type Client struct {
	opts    Options
	name    string // the URL as Display shows it
	proxy   *proxyDialer
	metrics Metrics
	log     Logger
	ignored *RateLimited // server messages that are not acks

	// Owned by the publisher.
	backoff          backoff.Backoff
	wait             bool // the last connect or publish failed: back off before dialing
	toldUncompressed bool // the server's refusal of compression was logged

	ctx    context.Context // cancelled by Close: ends dials and backoff waits
	cancel context.CancelFunc

	mu     sync.Mutex // guards conn and closed, which Close reads from elsewhere
	conn   *Conn      // nil while not connected
	closed bool

	// busy counts Connect calls and connections being closed, so that Close
	// can wait for connections it did not close itself.
	busy sync.WaitGroup
}

// NewClient returns a client of the server opts names. It does not dial.
func NewClient(opts Options, metrics Metrics, log Logger) *Client {
	ctx, cancel := context.WithCancel(context.Background())
	return &Client{
		opts:    opts,
		name:    Display(opts.URL),
		proxy:   newProxyDialer(&opts),
		metrics: metrics,
		log:     log,
		ignored: NewRateLimited(log, "Ignored a message from the server", ""),
		backoff: backoff.Backoff{
			Min:    opts.BackoffInit,
			Max:    opts.BackoffMax,
			Factor: 2,
			Jitter: true,
		},
		ctx:    ctx,
		cancel: cancel,
	}
}

// Name is the server's URL without credentials, for logs and errors.
func (c *Client) Name() string {
	return c.name
}

// Connect dials the server. After a failed connect or publish it first waits
// an exponential, jittered backoff, which Close cuts short. The error names
// the URL and the reason, with the HTTP status when the server refused the
// handshake, and what to check.
func (c *Client) Connect() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.busy.Add(1)
	c.mu.Unlock()
	defer c.busy.Done()

	if c.wait {
		if err := c.sleep(c.backoff.Duration()); err != nil {
			return err
		}
	}
	c.dropConn() // normally already gone: a failed connection is Lost
	c.wait = true

	ws, resp, err := c.dial()
	if err != nil {
		if c.ctx.Err() != nil {
			return ErrClosed
		}
		c.metrics.ConnectFailed(refusedStatus(err, resp))
		return fmt.Errorf("connect to %s: %w", c.name, handshakeError(err, resp))
	}
	if err := checkSubprotocol(ws, c.opts.Acks); err != nil {
		// Never fall back to sending without acknowledgements.
		msg := websocket.FormatCloseMessage(websocket.CloseProtocolError, "subprotocol "+protocol.Subprotocol+" required")
		_ = ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeWait))
		ws.Close()
		c.metrics.ConnectFailed(0)
		return fmt.Errorf("connect to %s: %w", c.name, err)
	}
	if c.opts.Compression > 0 {
		c.useCompression(ws, resp)
	}

	cn := newConn(ws, ws.NetConn().(*frameConn), c) // newDialer's connections are frameConns
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.conn = cn
	}
	c.mu.Unlock()
	if closed { // Close came during the dial and waits for this
		cn.close()
		return ErrClosed
	}

	// The backoff goes on growing until the connection proves healthy
	// (Lost): a server that accepts and drops every connection must not be
	// redialled every BackoffInit.
	c.wait = false
	return nil
}

// refusedStatus is the HTTP status of a handshake the server refused, 0
// when the dial failed otherwise.
func refusedStatus(err error, resp *http.Response) int {
	if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
		return resp.StatusCode
	}
	return 0
}

// handshakeError is why a dial failed, with what to check: the HTTP status
// when the server refused the upgrade.
func handshakeError(err error, resp *http.Response) error {
	if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
		return fmt.Errorf("handshake refused: HTTP %s%s", resp.Status, refusalHint(resp))
	}
	return fmt.Errorf("%w%s", err, dialHint(err))
}

// checkSubprotocol refuses, with acks, a server that did not select
// beats-ack.v1: it cannot acknowledge.
func checkSubprotocol(ws *websocket.Conn, acks bool) error {
	if acks && ws.Subprotocol() != protocol.Subprotocol {
		return fmt.Errorf("server did not accept subprotocol %s; it cannot acknowledge (set ack.enabled: false for a server without acknowledgements)", protocol.Subprotocol)
	}
	return nil
}

// dial opens the WebSocket connection, and lets Close cut it short. gorilla
// ends the TCP connect and a TLS handshake when its context is cancelled,
// but not the wait for the answer to the HTTP upgrade, which only the
// timeout bounds: a server that accepts the connection and never answers
// would hold Close, and so Filebeat's shutdown, for that long. So Close
// closes the socket under the handshake.
func (c *Client) dial() (*websocket.Conn, *http.Response, error) {
	var (
		mu        sync.Mutex
		raw       net.Conn
		cancelled bool
	)
	d := newDialer(&c.opts, func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := c.proxy.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		if cancelled {
			conn.Close()
			return nil, ErrClosed
		}
		raw = conn
		return conn, nil
	})
	stop := context.AfterFunc(c.ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		cancelled = true
		if raw != nil {
			raw.Close()
		}
	})
	ws, resp, err := d.DialContext(c.ctx, c.opts.URL.String(), c.opts.Header)
	if !stop() && err == nil {
		// Close came as the handshake completed: the socket may be closed.
		ws.Close()
		return nil, nil, ErrClosed
	}
	return ws, resp, err
}

// useCompression sets the deflate level if the server accepted
// permessage-deflate, and says once if it did not: the data then goes
// uncompressed, which is not an error.
func (c *Client) useCompression(ws *websocket.Conn, resp *http.Response) {
	if !deflateAccepted(resp) {
		if !c.toldUncompressed {
			c.log.Warnf("%s did not accept permessage-deflate (compression: true): sending uncompressed", c.name)
			c.toldUncompressed = true
		}
		return
	}
	// The adapter checked the level, so this cannot fail.
	_ = ws.SetCompressionLevel(c.opts.Compression)
}

// deflateAccepted says whether the server's answer to the handshake
// accepted permessage-deflate.
func deflateAccepted(resp *http.Response) bool {
	return strings.Contains(strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ","), "permessage-deflate")
}

// sleep waits d or until Close, whichever comes first.
func (c *Client) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.ctx.Done():
		return ErrClosed
	}
}

// Conn returns the live connection, once it has room for a batch (with
// acks, fewer than AckWindow batches await acknowledgement), or why there
// is none: a *LostError for a connection lost earlier, whose loss was
// logged with its reason then. A connection that died while idle (a
// missing pong, a close frame, an overdue ack) is Lost here, so that the
// next Connect replaces it.
func (c *Client) Conn() (*Conn, error) {
	cn := c.Current()
	if cn == nil {
		return nil, errNotConnected
	}
	if err := cn.usable(); err != nil {
		c.Lost(cn)
		return nil, err
	}
	return cn, nil
}

// Lost drops cn, a connection that failed, so that the next Connect backs
// off first: from BackoffInit again if cn had proved healthy, from where
// the backoff stands if not. Only the publisher calls it.
func (c *Client) Lost(cn *Conn) {
	c.dropConn()
	c.wait = true
	if cn.healthy(c.opts.BackoffMax) {
		c.backoff.Reset()
	}
}

// Close closes the connection with a normal close frame, ends a backoff
// wait or dial in progress, and waits for the connection's goroutines,
// also when the publisher is closing the connection at the same time.
// Idempotent, safe before Connect and from any goroutine.
func (c *Client) Close() error {
	c.cancel()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.dropConn()
	c.busy.Wait()
	return nil
}

// Current is the connection, nil while not connected: for diagnostics and
// tests, which may watch it die (Conn.Done).
func (c *Client) Current() *Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn
}

// dropConn closes and forgets the current connection, if any.
func (c *Client) dropConn() {
	c.mu.Lock()
	cn := c.conn
	c.conn = nil
	if cn != nil {
		c.busy.Add(1)
	}
	c.mu.Unlock()
	if cn != nil {
		cn.close()
		c.busy.Done()
	}
}
