package wsclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jpillora/backoff"

	"github.com/elastic/beats/v7/libbeat/logp"
	"github.com/elastic/beats/v7/libbeat/outputs"

	"github.com/beats-websocket/websocket-output/encode"
	"github.com/beats-websocket/websocket-output/transport/protocol"
)

var (
	errClosed       = errors.New("websocket client closed")
	errNotConnected = errors.New("not connected")
)

// Client is one WebSocket connection as a libbeat outputs.NetworkClient.
//
// libbeat calls Connect and Publish from one worker goroutine, never
// concurrently; Close may come from another goroutine at any time, also
// during Connect's backoff wait or a Publish. Close is final: afterwards
// Connect fails and Publish hands batches back.
type Client struct {
	url          *url.URL
	name         string // the URL as display shows it: never with credentials
	dialer       *websocket.Dialer
	header       http.Header // the handshake's extra headers: may hold credentials
	compression  int         // deflate level when compression was asked for; 0: off
	timeout      time.Duration
	pingInterval time.Duration
	pingTimeout  time.Duration
	ackTimeout   time.Duration // 0: acknowledgements are off
	observer     outputs.Observer
	log          *logp.Logger
	ignored      *limitedWarning // server messages that are not acks

	frame  string
	opcode int // websocket.TextMessage or websocket.BinaryMessage

	// Owned by the worker goroutine.
	enc       encode.Encoder
	buf       []byte // the message being built, reused across publishes
	droppedAt []int  // frame: batch: indexes of the events dropped from buf
	drops     *limitedWarning
	backoff   backoff.Backoff
	wait      bool // the last connect or publish failed: back off before dialing

	toldUncompressed bool // the server's refusal of compression was logged

	ctx    context.Context // cancelled by Close: ends dials and backoff waits
	cancel context.CancelFunc

	mu     sync.Mutex // guards conn and closed, which Close reads from elsewhere
	conn   *conn      // nil while not connected
	closed bool

	// busy counts Connect calls and connections being closed, so that Close
	// can wait for connections it did not close itself.
	busy sync.WaitGroup
}

// writeBufferSize is gorilla's buffer for outgoing frames, which a client
// must copy to mask. A frame: batch message larger than this is sent as
// several frames, one write each, so it is sized for a few hundred events.
const writeBufferSize = 64 << 10

// newClient returns a client of the server at ep.
func newClient(cfg config, ep *endpoint, enc encode.Encoder, observer outputs.Observer, log *logp.Logger) *Client {
	ctx, cancel := context.WithCancel(context.Background())
	opcode := websocket.TextMessage
	if cfg.Opcode == opcodeBinary {
		opcode = websocket.BinaryMessage
	}
	var ackTimeout time.Duration
	if cfg.Ack.Enabled {
		ackTimeout = cfg.Ack.Timeout
	}
	var compression int
	if cfg.Compression {
		compression = cfg.CompressionLevel
	}
	return &Client{
		url:          ep.url,
		name:         display(ep.url),
		dialer:       ep.dialer,
		header:       ep.header,
		compression:  compression,
		ackTimeout:   ackTimeout,
		frame:        cfg.Frame,
		opcode:       opcode,
		timeout:      cfg.Timeout,
		pingInterval: cfg.PingInterval,
		pingTimeout:  cfg.PingTimeout,
		observer:     observer,
		log:          log,
		enc:          enc,
		drops: &limitedWarning{log: log, every: warnInterval,
			what: "Dropped an event that cannot be sent", hint: "; see output.events.dropped"},
		ignored: &limitedWarning{log: log, every: warnInterval,
			what: "Ignored a message from the server"},
		backoff: backoff.Backoff{
			Min:    cfg.Backoff.Init,
			Max:    cfg.Backoff.Max,
			Factor: 2,
			Jitter: true,
		},
		ctx:    ctx,
		cancel: cancel,
	}
}

// String names the client in Filebeat's logs; it never shows credentials.
func (c *Client) String() string {
	return "websocket(" + c.name + ")"
}

// Connect dials the server. After a failed connect or publish it first waits
// an exponential, jittered backoff, which Close cuts short. The error names
// the URL and the reason, with the HTTP status when the server refused the
// handshake; libbeat logs it once.
func (c *Client) Connect() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errClosed
	}
	c.busy.Add(1)
	c.mu.Unlock()
	defer c.busy.Done()

	if c.wait {
		if err := c.sleep(c.backoff.Duration()); err != nil {
			return err
		}
	}
	c.dropConn() // normally already gone: Publish drops a failed connection
	c.wait = true

	ws, resp, err := c.dial()
	if err != nil {
		if c.ctx.Err() != nil {
			return errClosed
		}
		if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
			return fmt.Errorf("connect to %s: handshake refused: HTTP %s%s", c.name, resp.Status, refusalHint(resp))
		}
		return fmt.Errorf("connect to %s: %w%s", c.name, err, dialHint(err))
	}
	if c.ackTimeout > 0 && ws.Subprotocol() != protocol.Subprotocol {
		// Never fall back to sending without acknowledgements.
		msg := websocket.FormatCloseMessage(websocket.CloseProtocolError, "subprotocol "+protocol.Subprotocol+" required")
		_ = ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeWait))
		ws.Close()
		return fmt.Errorf("connect to %s: server did not accept subprotocol %s; it cannot acknowledge (set ack.enabled: false for a server without acknowledgements)",
			c.name, protocol.Subprotocol)
	}

	if c.compression > 0 {
		c.useCompression(ws, resp)
	}

	cn := newConn(ws, connConfig{
		observer:     c.observer,
		pingInterval: c.pingInterval,
		pingTimeout:  c.pingTimeout,
		ackTimeout:   c.ackTimeout,
		stall:        c.timeout,
		ignored:      c.ignored,
	})
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.conn = cn
	}
	c.mu.Unlock()
	if closed { // Close came during the dial and waits for this
		cn.close()
		return errClosed
	}

	// The backoff goes on growing until the connection proves healthy
	// (lost): a server that accepts and drops every connection must not be
	// redialled every backoff.init.
	c.wait = false
	return nil
}

// dial opens the WebSocket connection, and lets Close cut it short. gorilla
// ends the TCP connect and a TLS handshake when its context is cancelled,
// but not the wait for the answer to the HTTP upgrade, which only timeout
// bounds: a server that accepts the connection and never answers would
// hold Close, and so Filebeat's shutdown, for that long. So Close closes
// the socket under the handshake.
func (c *Client) dial() (*websocket.Conn, *http.Response, error) {
	var (
		mu        sync.Mutex
		raw       net.Conn
		cancelled bool
	)
	d := *c.dialer
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := c.dialer.NetDialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		if cancelled {
			conn.Close()
			return nil, errClosed
		}
		raw = conn
		return conn, nil
	}
	stop := context.AfterFunc(c.ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		cancelled = true
		if raw != nil {
			raw.Close()
		}
	})
	ws, resp, err := d.DialContext(c.ctx, c.url.String(), c.header)
	if !stop() && err == nil {
		// Close came as the handshake completed: the socket may be closed.
		ws.Close()
		return nil, nil, errClosed
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
	// The level is valid (Validate), so this cannot fail.
	_ = ws.SetCompressionLevel(c.compression)
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
		return errClosed
	}
}

// Close closes the connection with a normal close frame, ends a backoff
// wait or dial in progress, and waits for the connection's goroutines,
// also when the publishing goroutine is closing the connection at the same
// time. Idempotent, safe before Connect and from any goroutine.
func (c *Client) Close() error {
	c.cancel()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.dropConn()
	c.busy.Wait()
	return nil
}

// lost drops cn, a connection that failed, so that the next Connect backs
// off first; from backoff.init again if cn had proved healthy, from where
// the backoff stands if not. Only the publishing goroutine calls it.
func (c *Client) lost(cn *conn) {
	c.dropConn()
	c.wait = true
	if cn.healthy(c.backoff.Max) {
		c.backoff.Reset()
	}
}

func (c *Client) current() *conn {
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

// refusalHint says what to check when the server refuses the handshake.
// For a 400 it goes by the start of the answer's body (gorilla keeps up to
// 1 KiB), where Go's and nginx's TLS servers say what was wrong.
func refusalHint(resp *http.Response) string {
	code := resp.StatusCode
	switch {
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return " (check the credentials: headers, username and password)"
	case code == http.StatusNotFound:
		return " (no WebSocket endpoint at this path: check the URL's path)"
	case code == http.StatusBadRequest:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		switch {
		case bytes.Contains(body, []byte("HTTPS")):
			return " (the server expects TLS: use wss://)"
		case bytes.Contains(body, []byte("certificate")):
			return " (the server requires a client certificate: set ssl.certificate and ssl.key)"
		}
	case code >= 500:
		return " (the server failed: see its log)"
	case code == http.StatusSwitchingProtocols:
		return " (the server's answer is not a valid WebSocket upgrade)"
	case code >= 300 && code < 400:
		return " (a redirect, which is not followed: use the URL it points to)"
	case code < 300:
		return " (not a WebSocket endpoint: the server answered without upgrading; check the URL)"
	}
	return ""
}

// dialHint says what to check after a failed connection attempt.
func dialHint(err error) string {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var tlsRecord tls.RecordHeaderError
	// A TLS alert from the server arrives as a net.OpError around an
	// unexported type, and gorilla's compression error is unexported too:
	// only their text tells which.
	msg := err.Error()
	switch {
	case errors.As(err, &unknownCA):
		return " (set ssl.certificate_authorities to the CA that signed the server's certificate)"
	case errors.As(err, &hostname):
		return " (the certificate does not name the host in the URL)"
	case errors.As(err, &tlsRecord):
		return " (the server does not speak TLS: use ws://, or check the port)"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return " (the server closed the connection without answering the handshake: is it a WebSocket server, and does the port need wss://?)"
	case strings.Contains(msg, "remote error: tls: certificate required"), strings.Contains(msg, "remote error: tls: bad certificate"):
		return " (the server requires a client certificate it trusts: set ssl.certificate and ssl.key)"
	case strings.Contains(msg, "remote error: tls: unknown certificate authority"):
		return " (the server does not trust the CA that signed ssl.certificate)"
	case strings.Contains(msg, "websocket: invalid compression negotiation"):
		return " (the server accepted permessage-deflate only with context takeover, which this client does not do: set compression: false)"
	}
	return ""
}
