// Package transport is the websocket output's connection to one server,
// free of Beats: dialing (TLS, proxies, the WebSocket handshake and what to
// check when it fails), the connection with its reader and pinger, the
// numbering of data messages, the tracking of the server's
// acknowledgements (beats-ack.v1, package protocol) and the reconnect
// backoff. Each Beats line's adapter turns its configuration into Options,
// its batches into Pending, and its Observer into Metrics.
//
// Concurrency: one goroutine, the publisher (libbeat's output worker),
// calls a Client's Connect, Conn and Lost and a Conn's Write, WriteMore,
// Flushed, Await and Abandon, never concurrently; Close may come from any
// goroutine at any time. A Conn owns a reader goroutine and, with pings, a
// pinger, which writes only control frames through gorilla's WriteControl:
// with one data writer that is gorilla's concurrency contract. Under
// gorilla, a frameConn holds the data frames WriteMore writes until Write
// sends them, so that a batch of small messages costs a few system calls;
// control frames never wait there.
package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Options are one server and how to connect to it and keep the connection.
type Options struct {
	// URL is the server's, ws:// or wss://. It has no user information.
	URL *url.URL
	// Header is added to the handshake request. It may hold credentials:
	// it is never shown.
	Header http.Header
	// TLS is for a wss:// server, with its ServerName set; nil: Go's
	// defaults, the system's roots and full verification.
	TLS *tls.Config
	// Verification names the TLS verification mode for Check (full,
	// strict, certificate or none; none is warned about).
	Verification string

	// Proxy chooses the proxy for a request to the server, as
	// http.ProxyFromEnvironment does: nil for a direct connection. An
	// http:// or https:// proxy gets CONNECT with ProxyHeader (and
	// Proxy-Authorization from its URL's user information), a socks5://
	// proxy the SOCKS handshake. nil: always direct.
	Proxy       func(*http.Request) (*url.URL, error)
	ProxyHeader http.Header
	// ProxyTLS is the TLS configuration for an https:// proxy of the given
	// host; nil: Go's defaults.
	ProxyTLS func(host string) *tls.Config
	// Dial opens the TCP connections, to the server or the proxy; nil:
	// net.Dialer's. Tests wrap it to see, or hold up, what the sockets do.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// Timeout bounds the handshake, and how long a write may take no bytes.
	Timeout time.Duration
	// Compression is the permessage-deflate level to offer, 1 to 9; 0
	// offers none.
	Compression int
	// Acks offers the subprotocol beats-ack.v1 and refuses a server that
	// does not select it; AckTimeout is how long a written batch's
	// acknowledgement may take.
	Acks       bool
	AckTimeout time.Duration
	// PingInterval is the time between pings, 0 for none; a pong is due
	// within PingTimeout.
	PingInterval, PingTimeout time.Duration
	// BackoffInit and BackoffMax bound the reconnect delay: after the n-th
	// failure in a row it is drawn between BackoffInit and
	// BackoffInit × 2^(n-1), capped at BackoffMax, and it starts over once
	// a connection proved healthy.
	BackoffInit, BackoffMax time.Duration
}

// Metrics receives the counts of what happened on the connections: each
// failure once, where it happened. The adapter turns them into Beats'
// metrics (libbeat's outputs.Observer has the first three methods). Called
// from any goroutine.
type Metrics interface {
	WriteError(error)
	ReadError(error)
	ReadBytes(int)

	// Connected: a handshake completed, and the connection is open until
	// its Disconnected.
	Connected()
	// ConnectFailed: a connect failed (not one that Close cut short).
	// status is the HTTP status of a handshake the server refused, 0 for
	// every other failure (dial, TLS, the subprotocol).
	ConnectFailed(status int)
	// Disconnected: an open connection ended, once per Connected: lost
	// for the reason given, or NotLost when the client closed it.
	Disconnected(Loss)
	// AwaitingAck: the number of batches awaiting acknowledgement changed
	// by delta (+1 when one is written, -1 when it is resolved).
	AwaitingAck(delta int)
	// AckLatency: a batch was acknowledged in full, d after it was
	// written (Conn.Await).
	AckLatency(d time.Duration)
}

// Loss is why a connection ended.
type Loss int

const (
	NotLost         Loss = iota // the client closed it
	LostCloseFrame              // the server sent a close frame
	LostPongTimeout             // no pong within ping_timeout
	LostAckTimeout              // no acknowledgement within ack.timeout
	LostReadError               // reading failed: the connection broke, or the server broke the protocol
	LostWriteError              // writing failed, or took no bytes for timeout
)

// Logger takes the warnings and errors: libbeat's *logp.Logger is one.
// Called from any goroutine.
type Logger interface {
	Warnf(format string, args ...interface{})
	Errorf(format string, args ...interface{})
}

// ErrClosed is why a closed Client does not connect, and why its
// connection ended.
var ErrClosed = errors.New("websocket client closed")

// errNotConnected is why there is no connection to publish on.
var errNotConnected = errors.New("not connected")
