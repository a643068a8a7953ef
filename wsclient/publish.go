package wsclient

import (
	"context"
	"fmt"

	"github.com/elastic/beats/v7/libbeat/publisher"

	"github.com/beats-websocket/websocket-output/transport"
	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// maxRetainedBuf is the largest message buffer kept between publishes; a
// batch of huge events must not pin its memory for good.
const maxRetainedBuf = 4 << 20

// Publish sends the batch's events in order: one message each (frame:
// event) or one message for all (frame: batch). Events that cannot be
// encoded are dropped and counted.
//
// Without acks the batch is ACKed once written. With acks the connection
// waits for the server's acknowledgement, which the reader turns into the
// batch's ACK; Publish returns as soon as it is written, after waiting for
// room if transport.AckWindow batches already wait.
//
// On a write error the connection is dropped, the events the server does
// not hold go back to libbeat for retry, and the error is returned so that
// libbeat reconnects. The transport logged the loss, with its reason, when
// it noticed it; the error only refers to that.
func (c *Client) Publish(_ context.Context, batch publisher.Batch) error {
	events := batch.Events()
	c.observer.NewBatch(len(events))

	cn, err := c.conn.Conn()
	if err != nil {
		// Nothing was sent, so the batch goes back without using a retry
		// (libbeat's pipeline.events.retry counts it when it comes again);
		// its events count as failed, handed back, like those of a batch
		// that failed on the connection.
		c.observer.Failed(len(events))
		batch.Cancelled()
		return err
	}
	var w written
	if c.frame == frameBatch {
		w = c.sendBatch(cn, events)
	} else {
		w = c.sendEvents(cn, events)
	}
	c.observer.WriteBytes(w.bytes)
	c.observer.Dropped(len(events) - len(w.kept))
	if cap(c.buf) > maxRetainedBuf {
		c.buf = nil
	}
	if cap(c.spare) > maxRetainedBuf {
		c.spare = nil
	}
	if w.err != nil {
		return c.abort(cn, batch, w)
	}
	c.finish(cn, batch, w)
	return nil
}

// written is what one Publish wrote of its batch.
type written struct {
	kept  []publisher.Event // the batch's events less those dropped, in the order sent
	first uint64            // the number of the message that carries kept[0] (or would have)
	last  uint64            // the number of the last message written
	n     int               // how many of kept reached the socket, when a write failed
	bytes int               // of the messages that reached the socket
	err   error             // the write that failed, if one did
}

// sendEvents writes one message per event. All but the last go with
// WriteMore, so that the connection sends them a buffer at a time; each is
// written once the next event is encoded, so that the last goes with
// Write, which sends it with the rest. A failed write ends it: n is then
// how many of kept reached the socket (Conn.Flushed), and kept holds what
// was not dropped before the failure, and the rest.
func (c *Client) sendEvents(cn *transport.Conn, events []publisher.Event) written {
	w := written{first: cn.Sent() + 1}
	var dropped []int
	bufs := [2][]byte{c.buf, c.spare} // taking turns: bufs[cur] takes the next event, the other holds held
	cur := 0
	var held []byte   // the last event encoded, not yet written
	haveHeld := false // held may be empty, even nil: an event that encodes to nothing
	sizes := c.sizes[:0]
	for i := range events {
		msg, err := c.enc.Append(bufs[cur][:0], &events[i].Content)
		if err != nil {
			dropped = append(dropped, i)
			c.drops.Report(err)
			continue
		}
		bufs[cur] = msg
		if haveHeld {
			if w.err = c.writeEvent(cn, &w, held, true); w.err != nil {
				break
			}
			sizes = append(sizes, len(held))
		}
		held, haveHeld, cur = msg, true, cur^1
	}
	if haveHeld && w.err == nil {
		if w.err = c.writeEvent(cn, &w, held, false); w.err == nil {
			sizes = append(sizes, len(held))
		}
	}
	c.buf, c.spare, c.sizes = bufs[0], bufs[1], sizes
	w.kept = without(events, dropped)
	w.n = len(w.kept)
	if w.err != nil {
		// Held messages that never reached the socket count as not sent:
		// those of this batch in the socket are w.first to Flushed.
		w.n = min(w.n, int(max(cn.Flushed()+1, w.first)-w.first))
	}
	for _, size := range sizes[:min(w.n, len(sizes))] {
		w.bytes += size
	}
	return w
}

// writeEvent writes one event's message, with WriteMore if more follow.
func (c *Client) writeEvent(cn *transport.Conn, w *written, msg []byte, more bool) error {
	write := cn.Write
	if more {
		write = cn.WriteMore
	}
	seq, err := write(c.opcode, msg)
	if err == nil {
		w.last = seq
	}
	return err
}

// sendBatch writes the whole batch as one message, each event followed by
// protocol.EventEnd. A batch whose events were all dropped sends nothing.
func (c *Client) sendBatch(cn *transport.Conn, events []publisher.Event) written {
	w := written{first: cn.Sent() + 1}
	var dropped []int
	buf := c.buf[:0]
	for i := range events {
		var err error
		if buf, err = c.enc.Append(buf, &events[i].Content); err != nil {
			dropped = append(dropped, i)
			c.drops.Report(err)
			continue
		}
		buf = append(buf, protocol.EventEnd)
	}
	c.buf = buf
	w.kept = without(events, dropped)
	if len(w.kept) == 0 {
		return w
	}
	seq, err := cn.Write(c.opcode, buf)
	if err != nil {
		w.err = err
		return w
	}
	w.last, w.n, w.bytes = seq, len(w.kept), len(buf)
	return w
}

// without returns events less those at the (ascending) indexes drop: events
// itself when there are none.
func without(events []publisher.Event, drop []int) []publisher.Event {
	if len(drop) == 0 {
		return events
	}
	kept := make([]publisher.Event, 0, len(events)-len(drop))
	for i := range events {
		if len(drop) > 0 && drop[0] == i {
			drop = drop[1:]
			continue
		}
		kept = append(kept, events[i])
	}
	return kept
}

// finish accounts for a batch whose messages were all written: without
// acks, or with nothing sent, it is delivered; with acks the connection
// waits for the server to acknowledge its last message.
func (c *Client) finish(cn *transport.Conn, batch publisher.Batch, w written) {
	if !cn.Acks() || len(w.kept) == 0 {
		c.observer.Acked(len(w.kept))
		batch.ACK()
		return
	}
	cn.Await(&transport.Pending{
		First:    w.first,
		Last:     w.last,
		PerEvent: c.frame == frameEvent,
		Events:   len(w.kept),
		Resolve:  c.resolver(batch, w.kept),
	})
}

// abort handles a write that failed, which killed the connection: the
// events the server does not hold go back to libbeat (those not written,
// and with acks also those written and not acknowledged), and the
// connection is dropped, so that libbeat reconnects.
func (c *Client) abort(cn *transport.Conn, batch publisher.Batch, w written) error {
	if cn.Acks() {
		cn.Abandon(&transport.Pending{
			First:    w.first,
			PerEvent: c.frame == frameEvent,
			Events:   len(w.kept),
			Resolve:  c.resolver(batch, w.kept),
		})
	} else {
		c.resolver(batch, w.kept)(w.n)
	}
	c.conn.Lost(cn)
	return fmt.Errorf("send to %s: %w", c.conn.Name(), w.err)
}

// resolver returns what ends a batch once it is known how many of its kept
// events, from the first, the server holds: those are acknowledged, the
// rest handed back to libbeat to send again.
func (c *Client) resolver(batch publisher.Batch, kept []publisher.Event) func(int) {
	return func(n int) {
		c.observer.Acked(n)
		if n == len(kept) {
			batch.ACK()
			return
		}
		c.observer.Failed(len(kept) - n)
		batch.RetryEvents(kept[n:])
	}
}
