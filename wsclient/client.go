package wsclient

import (
	"github.com/gorilla/websocket"

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
	observer stats
	frame    string
	opcode   int // websocket.TextMessage or websocket.BinaryMessage

	// Owned by the worker goroutine.
	enc   encode.Encoder
	buf   []byte                 // the message being built, reused across publishes
	spare []byte                 // frame: event's second message buffer (sendEvents)
	sizes []int                  // frame: event's message sizes, for the bytes written
	drops *transport.RateLimited // warnings of dropped events
}

// stats is what a client reports to libbeat's Observer, by Beats 7.17's
// names of its methods: 7.17's outputs.Observer is one, and 9.5's line.go
// renames its Observer's methods to these. Every event of a batch given to
// Publish is counted once as acked, failed or dropped (docs/metrics.md).
type stats interface {
	NewBatch(events int)
	Acked(events int)   // delivered
	Failed(events int)  // handed back to libbeat to be sent again
	Dropped(events int) // for good: they cannot be encoded
	WriteBytes(bytes int)
	WriteError(error)
	ReadError(error)
	ReadBytes(int)
}

// newClient returns a client of the server opts names, which reports to
// m.
func newClient(cfg config, opts transport.Options, enc encode.Encoder, m metrics, log *logger) *Client {
	opcode := websocket.TextMessage
	if cfg.Opcode == opcodeBinary {
		opcode = websocket.BinaryMessage
	}
	return &Client{
		conn:     transport.NewClient(opts, m, log),
		observer: m.stats,
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

// Close closes the connection; see transport.Client.Close. Safe from any
// goroutine, idempotent.
func (c *Client) Close() error {
	return c.conn.Close()
}
