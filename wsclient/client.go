package wsclient

import (
	"github.com/gorilla/websocket"

	"github.com/elastic/beats/v7/libbeat/logp"
	"github.com/elastic/beats/v7/libbeat/outputs"

	"github.com/beats-websocket/websocket-output/encode"
	"github.com/beats-websocket/websocket-output/transport"
)

// Client is one WebSocket connection as a libbeat outputs.NetworkClient:
// the transport's Client for the connection, and the libbeat side of it,
// batches, encoding and the Observer.
//
// libbeat calls Connect and Publish from one worker goroutine, never
// concurrently; Close may come from another goroutine at any time, also
// during Connect's backoff wait or a Publish. Close is final: afterwards
// Connect fails and Publish hands batches back.
type Client struct {
	conn     *transport.Client
	observer outputs.Observer
	frame    string
	opcode   int // websocket.TextMessage or websocket.BinaryMessage

	// Owned by the worker goroutine.
	enc   encode.Encoder
	buf   []byte                 // the message being built, reused across publishes
	spare []byte                 // frame: event's second message buffer (sendEvents)
	sizes []int                  // frame: event's message sizes, for the bytes written
	drops *transport.RateLimited // warnings of dropped events
}

// newClient returns a client of the server opts names.
func newClient(cfg config, opts transport.Options, enc encode.Encoder, observer outputs.Observer, log *logp.Logger) *Client {
	opcode := websocket.TextMessage
	if cfg.Opcode == opcodeBinary {
		opcode = websocket.BinaryMessage
	}
	return &Client{
		conn:     transport.NewClient(opts, observer, log),
		observer: observer,
		frame:    cfg.Frame,
		opcode:   opcode,
		enc:      enc,
		drops:    transport.NewRateLimited(log, "Dropped an event that cannot be sent", "; see output.events.dropped"),
	}
}

// String names the client in Filebeat's logs; it never shows credentials.
func (c *Client) String() string {
	return "websocket(" + c.conn.Name() + ")"
}

// Connect dials the server, after a backoff if the last connect or publish
// failed (transport.Client.Connect). libbeat logs its error once.
func (c *Client) Connect() error {
	return c.conn.Connect()
}

// Close closes the connection; see transport.Client.Close. Safe from any
// goroutine, idempotent.
func (c *Client) Close() error {
	return c.conn.Close()
}
