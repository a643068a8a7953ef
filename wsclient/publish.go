package wsclient

import (
	"context"
	"fmt"

	"github.com/elastic/beats/v7/libbeat/publisher"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// maxRetainedBuf is the largest message buffer kept between publishes; a
// batch of huge events must not pin its memory for good.
const maxRetainedBuf = 4 << 20

// Publish sends the batch's events in order: one message each (frame:
// event) or one message for all (frame: batch). Events that cannot be
// encoded are dropped and counted.
//
// Without acks the batch is ACKed once written. With acks it waits on the
// connection for the server's acknowledgement, which the reader turns into
// the batch's ACK; Publish returns as soon as it is written, after waiting
// for room if ackWindow batches already wait.
//
// On a write error the connection is dropped, the events the server does
// not hold go back to libbeat for retry, and the error is returned so that
// libbeat reconnects.
func (c *Client) Publish(_ context.Context, batch publisher.Batch) error {
	events := batch.Events()
	c.observer.NewBatch(len(events))

	cn, err := c.usableConn()
	if err != nil {
		// Nothing was sent, so the batch goes back without using a retry.
		c.observer.Cancelled(len(events))
		batch.Cancelled()
		return err
	}
	if c.frame == frameBatch {
		return c.publishBatch(cn, batch, events)
	}
	return c.publishEvents(cn, batch, events)
}

// usableConn returns the live connection, once it has room for a batch, or
// why there is none. A connection that died while idle (a missing pong, a
// close frame, an overdue ack) is dropped here, so that libbeat reconnects.
func (c *Client) usableConn() (*conn, error) {
	cn := c.current()
	if cn == nil {
		return nil, errNotConnected
	}
	err := cn.err()
	if err == nil && cn.acks != nil {
		err = cn.acks.waitRoom(cn)
	}
	if err != nil {
		c.lost(cn)
		return nil, fmt.Errorf("connection to %s lost: %w", c.name, err)
	}
	return cn, nil
}

// publishEvents writes one message per event. After a failed write, the
// remainder from the event that failed on is retried, and with acks also
// what was sent before it and not acknowledged.
func (c *Client) publishEvents(cn *conn, batch publisher.Batch, events []publisher.Event) error {
	var bytes int
	c.droppedAt = c.droppedAt[:0]
	first := c.nextMessage(cn)
	for i := range events {
		msg, err := c.enc.Append(c.buf[:0], &events[i].Content)
		if err != nil {
			c.droppedAt = append(c.droppedAt, i)
			c.drops.report(err)
			continue
		}
		c.buf = msg
		if err := cn.write(c.opcode, msg); err != nil {
			return c.failed(cn, batch, without(events, c.droppedAt), i-len(c.droppedAt), first, err, bytes)
		}
		bytes += len(msg)
	}
	return c.written(cn, batch, events, first, bytes)
}

// publishBatch writes the whole batch as one message, each event followed
// by a newline. After a failed write, every event of it is retried.
func (c *Client) publishBatch(cn *conn, batch publisher.Batch, events []publisher.Event) error {
	buf := c.buf[:0]
	c.droppedAt = c.droppedAt[:0]
	for i := range events {
		var err error
		if buf, err = c.enc.Append(buf, &events[i].Content); err != nil {
			c.droppedAt = append(c.droppedAt, i)
			c.drops.report(err)
			continue
		}
		buf = append(buf, protocol.EventEnd)
	}
	c.buf = buf
	if len(c.droppedAt) == len(events) {
		return c.written(cn, batch, events, 0, 0)
	}
	first := c.nextMessage(cn)
	if err := cn.write(c.opcode, buf); err != nil {
		return c.failed(cn, batch, without(events, c.droppedAt), 0, first, err, 0)
	}
	return c.written(cn, batch, events, first, len(buf))
}

// nextMessage is the number the connection's next data message will have,
// counting from 1; acks count messages.
func (c *Client) nextMessage(cn *conn) uint64 {
	if cn.acks == nil {
		return 0
	}
	return cn.acks.sent.Load() + 1
}

// without returns events less those at the (ascending) indexes drop.
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

// written accounts for a batch whose messages were all written, less the
// events in c.droppedAt. Without acks it is done; with acks it waits on the
// connection for the server to acknowledge message first onwards.
func (c *Client) written(cn *conn, batch publisher.Batch, events []publisher.Event, first uint64, bytes int) error {
	c.observer.WriteBytes(bytes)
	c.observer.Dropped(len(c.droppedAt))
	c.releaseBuf()
	sent := len(events) - len(c.droppedAt)
	if cn.acks == nil || sent == 0 {
		c.observer.Acked(sent)
		batch.ACK()
		return nil
	}
	f := &inflight{
		batch:    batch,
		events:   without(events, c.droppedAt),
		first:    first,
		last:     first,
		perEvent: c.frame == frameEvent,
	}
	if f.perEvent {
		f.last = first + uint64(sent) - 1
	}
	cn.acks.add(f)
	cn.extend() // the ack deadline may now be the nearest
	return nil
}

// failed handles a write that failed after the first sent of the batch's
// kept (not dropped) events were written: it drops the connection and hands
// back to libbeat the events the server does not hold: those not written,
// and with acks also those written and not acknowledged. c.droppedAt lists
// the events dropped before the failure.
func (c *Client) failed(cn *conn, batch publisher.Batch, kept []publisher.Event, sent int, first uint64, err error, bytes int) error {
	c.lost(cn)
	c.observer.WriteBytes(bytes)
	c.observer.Dropped(len(c.droppedAt))
	c.releaseBuf()
	if cn.acks != nil {
		cn.acks.abandon(&inflight{batch: batch, events: kept, first: first, perEvent: c.frame == frameEvent})
	} else {
		c.observer.Acked(sent)
		c.observer.Failed(len(kept) - sent)
		batch.RetryEvents(kept[sent:])
	}
	return fmt.Errorf("send to %s: %w", c.name, err)
}

func (c *Client) releaseBuf() {
	if cap(c.buf) > maxRetainedBuf {
		c.buf = nil
	}
}
