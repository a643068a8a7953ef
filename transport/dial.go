package transport

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptrace"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// writeBufferSize is gorilla's buffer for outgoing frames, which a client
// must copy to mask. A frame: batch message larger than this is sent as
// several frames, one write each, so it is sized for a few hundred events.
const writeBufferSize = 64 << 10

// dialFunc opens the TCP connection to addr, directly or through a proxy:
// proxyDialer.DialContext, or a wrapper of it that watches the dial.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// newDialer is gorilla's dialer for the server, over the connections dial
// opens, with TLS, the subprotocol and compression as opts say. Every
// connection it makes is a frameConn: for wss:// it runs the TLS handshake
// itself (dialTLS), so that the frameConn sits above TLS and sees the
// frames, not TLS records.
func newDialer(opts *Options, dial dialFunc) *websocket.Dialer {
	d := &websocket.Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &frameConn{Conn: conn}, nil
		},
		NetDialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialTLS(ctx, dial, opts.TLS, network, addr)
			if err != nil {
				return nil, err
			}
			return &frameConn{Conn: conn}, nil
		},
		HandshakeTimeout:  opts.Timeout,
		WriteBufferSize:   writeBufferSize,
		EnableCompression: opts.Compression > 0,
	}
	if opts.Acks {
		d.Subprotocols = []string{protocol.Subprotocol}
	}
	return d
}

// dialTLS opens the connection with dial and runs the TLS handshake over
// it as gorilla does when it runs it (its doHandshake): with cfg (nil: Go's
// defaults), the server name from addr unless cfg names one, the name
// checked against the certificate unless verification is off, under the
// handshake's deadline and ctx, and seen by ctx's client trace (Check
// reads the handshake's outcome there).
func dialTLS(ctx context.Context, dial dialFunc, cfg *tls.Config, network, addr string) (net.Conn, error) {
	conn, err := dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg.ServerName = host
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	tc := tls.Client(conn, cfg)
	trace := httptrace.ContextClientTrace(ctx)
	if trace != nil && trace.TLSHandshakeStart != nil {
		trace.TLSHandshakeStart()
	}
	err = tc.HandshakeContext(ctx)
	if err == nil && !cfg.InsecureSkipVerify {
		err = tc.VerifyHostname(cfg.ServerName)
	}
	if trace != nil && trace.TLSHandshakeDone != nil {
		trace.TLSHandshakeDone(tc.ConnectionState(), err)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}
