package wsclient

import (
	"context"
	"fmt"

	"github.com/elastic/beats/v7/libbeat/publisher"
)

// maxRetainedBuf is the largest message buffer kept between publishes; a
// batch of huge events must not pin its memory for good.
const maxRetainedBuf = 4 << 20

// Publish sends the batch's events in order: one message each (frame:
// event) or one message for all (frame: batch). Events that cannot be
// encoded are dropped and counted. On success the batch is ACKed. On a
// write error the connection is dropped, the events not yet sent go back to
// libbeat for retry, and the error is returned so that libbeat reconnects.
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

// usableConn returns the live connection, or why there is none. A
// connection that died while idle (a missing pong, a close frame) is
// dropped here, so that libbeat reconnects.
func (c *Client) usableConn() (*conn, error) {
	cn := c.current()
	if cn == nil {
		return nil, errNotConnected
	}
	if err := cn.err(); err != nil {
		c.dropConn()
		c.wait = true
		return nil, fmt.Errorf("connection to %s lost: %w", c.url.Redacted(), err)
	}
	return cn, nil
}

// publishEvents writes one message per event. After a failed write, the
// remainder from the event that failed on is retried.
func (c *Client) publishEvents(cn *conn, batch publisher.Batch, events []publisher.Event) error {
	var sent, dropped, bytes int
	for i := range events {
		msg, err := c.enc.Append(c.buf[:0], &events[i].Content)
		if err != nil {
			dropped++
			c.drops.report(err)
			continue
		}
		c.buf = msg
		if err := cn.write(c.opcode, msg, c.timeout); err != nil {
			return c.failed(batch, events[i:], err, sent, dropped, bytes)
		}
		sent++
		bytes += len(msg)
	}
	return c.succeeded(batch, sent, dropped, bytes)
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
		buf = append(buf, '\n')
	}
	c.buf = buf
	dropped := len(c.droppedAt)
	sent := len(events) - dropped
	if sent == 0 {
		return c.succeeded(batch, 0, dropped, 0)
	}
	if err := cn.write(c.opcode, buf, c.timeout); err != nil {
		return c.failed(batch, without(events, c.droppedAt), err, 0, dropped, 0)
	}
	return c.succeeded(batch, sent, dropped, len(buf))
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

func (c *Client) succeeded(batch publisher.Batch, sent, dropped, bytes int) error {
	c.observer.WriteBytes(bytes)
	c.observer.Acked(sent)
	c.observer.Dropped(dropped)
	c.releaseBuf()
	batch.ACK()
	return nil
}

// failed drops the connection and hands retry back to libbeat.
func (c *Client) failed(batch publisher.Batch, retry []publisher.Event, err error, sent, dropped, bytes int) error {
	c.dropConn()
	c.wait = true
	c.observer.WriteError(err)
	c.observer.WriteBytes(bytes)
	c.observer.Acked(sent)
	c.observer.Dropped(dropped)
	c.observer.Failed(len(retry))
	c.releaseBuf()
	batch.RetryEvents(retry)
	return fmt.Errorf("send to %s: %w", c.url.Redacted(), err)
}

func (c *Client) releaseBuf() {
	if cap(c.buf) > maxRetainedBuf {
		c.buf = nil
	}
}
