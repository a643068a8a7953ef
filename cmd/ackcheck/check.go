package main

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/format"
	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// The messages the checker sends: on the first connection one event, then
// the rest of eventMessages; on the second one event, then batchMessages
// batches of eventsPerBatch events (frame: batch).
const (
	eventMessages  = 10
	batchMessages  = 3
	eventsPerBatch = 3
)

// checker runs the checks against one server: three connections, one after
// the other, from one goroutine.
type checker struct {
	url     string
	dialer  *websocket.Dialer
	header  http.Header
	timeout time.Duration // for each ack, pong and close answer, and each write
	enc     *format.Default

	// What the server sent, over all connections.
	fromServer int           // messages
	acks       int           // of them, well-formed acks
	malformed  []string      // messages that are not acks
	decreases  []string      // acks lower than one before on the connection
	beyond     []string      // acks of more messages than had been sent
	late       []string      // waits for an ack that timed out
	slowest    time.Duration // the longest an awaited ack took
}

// wait is what came of sending messages and waiting for their ack.
type wait struct {
	session  *session
	sent     uint64 // data messages sent on the connection so far
	reached  bool   // an ack of at least the one awaited arrived in time
	timedOut bool
	ended    error // the connection ended (or a write failed) first
}

func (w wait) highest() uint64 { return w.session.highest }
func (w wait) anyAck() bool    { return w.session.acks > 0 }

// run runs every check and returns the results in checklist order.
func (c *checker) run() results {
	res := newResults()
	s1, err := c.connect(1)
	if err != nil {
		res[checkSubprotocol] = fail("cannot connect: %v", err)
		res.skipRest("no connection")
		return res
	}
	if got := s1.ws.Subprotocol(); got != protocol.Subprotocol {
		res[checkSubprotocol] = fail("the server answered without selecting %s (Sec-WebSocket-Protocol: %q): Filebeat with ack.enabled closes such a connection (1002) and retries, it never sends without acks", protocol.Subprotocol, got)
		c.finish(s1)
		res.skipRest("the server did not select " + protocol.Subprotocol)
		return res
	}
	res[checkSubprotocol] = pass("the server selected %s", protocol.Subprotocol)

	// Connection 1: frame: event, one message first.
	first := c.sendAndWait(s1, c.events(s1, 1), 1)
	res[checkCountsFrom1] = judgeFirst(first, c.timeout)
	if first.anyAck() {
		base := first.highest() // what a server counting from 0 or 1 said for message 1
		events := c.sendAndWait(s1, c.events(s1, eventMessages-1), base+eventMessages-1)
		c.finish(s1) // judged with every ack the server sent, to the close
		res[checkFrameEvent] = judgeEvents(events, base, c.timeout)
		// Connection 2: one event message, then frame: batch.
		res[checkRestart], res[checkFrameBatch] = c.secondConnection(base, s1.highest, s1.sent.Load())
	} else {
		c.finish(s1)
		res.skipAckChecks("the server acknowledged nothing")
	}
	res[checkInTime] = c.judgeInTime()

	// Connection 3: ping, then close.
	if s3, err := c.connect(3); err != nil {
		res[checkPing] = fail("cannot open a third connection: %v", err)
		res[checkClose] = skip("no third connection")
	} else {
		res[checkPing] = c.ping(s3)
		res[checkClose] = c.closeHandshake(s3)
		s3.close()
	}
	res[checkWellFormed], res[checkCumulative], res[checkWithinSent] = c.judgeAcks()
	return res
}

// secondConnection checks that a new connection counts from where the first
// did (base: its ack of message 1), not from where the first ended, then
// sends frame: batch messages.
func (c *checker) secondConnection(base, prevHighest, prevSent uint64) (restart, batch result) {
	s2, err := c.connect(2)
	if err != nil {
		return fail("cannot open a second connection: %v", err), skip("no second connection")
	}
	first := c.sendAndWait(s2, c.events(s2, 1), 1)
	restart = judgeRestart(first, base, prevHighest, prevSent, c.timeout)
	if !first.anyAck() || first.ended != nil {
		c.finish(s2)
		return restart, skip("no ack on the second connection")
	}
	base2 := first.highest()
	batches := c.sendAndWait(s2, c.batches(s2), base2+batchMessages)
	c.finish(s2) // judged with every ack the server sent, to the close
	return restart, judgeBatch(batches, base2, c.timeout)
}

// connect opens connection id, offering the subprotocol.
func (c *checker) connect(id int) (*session, error) {
	ws, resp, err := c.dialer.Dial(c.url, c.header)
	if err != nil {
		return nil, dialError(err, resp)
	}
	return newSession(id, ws), nil
}

// sendAndWait sends msgs on s, then takes the server's messages until an
// ack of at least target, the end of the connection, or the timeout after
// the last write.
func (c *checker) sendAndWait(s *session, msgs [][]byte, target uint64) wait {
	w := wait{session: s}
	for _, m := range msgs {
		if err := s.send(m, c.timeout); err != nil {
			w.ended = err // the reader will say how, below
			break
		}
	}
	w.sent = s.sent.Load()
	sentAt := time.Now()
	deadline := sentAt.Add(c.timeout)
	for s.highest < target {
		ev, ok := s.next(deadline)
		if !ok {
			w.timedOut = s.ended == nil
			break
		}
		if ev.end != nil {
			w.ended = ev.end
			break
		}
		c.observe(s, ev)
		if s.highest >= target {
			c.slowest = max(c.slowest, ev.at.Sub(sentAt))
		}
	}
	w.reached = s.highest >= target
	if w.timedOut {
		c.late = append(c.late, fmt.Sprintf("connection %d: no ack of %d within %v of message %d (highest %s)", s.id, target, c.timeout, w.sent, describeHighest(s)))
	}
	return w
}

// observe records a message from the server.
func (c *checker) observe(s *session, ev serverEvent) {
	if ev.pong != nil {
		return // judged by ping, which sent it
	}
	c.fromServer++
	n, err := ack(ev)
	if err != nil {
		c.malformed = append(c.malformed, fmt.Sprintf("connection %d: %v", s.id, err))
		return
	}
	c.acks++
	s.acks++
	if n < s.highest {
		c.decreases = append(c.decreases, fmt.Sprintf(`connection %d: {"ack":%d} after {"ack":%d}`, s.id, n, s.highest))
	}
	if n > ev.sent {
		c.beyond = append(c.beyond, fmt.Sprintf(`connection %d: {"ack":%d} when %d messages had been sent`, s.id, n, ev.sent))
	}
	s.highest = max(s.highest, n)
}

// ping sends a ping and waits for its pong.
func (c *checker) ping(s *session) result {
	const payload = "ackcheck"
	start := time.Now()
	if err := s.ws.WriteControl(websocket.PingMessage, []byte(payload), start.Add(c.timeout)); err != nil {
		return fail("cannot send a ping: %v", err)
	}
	deadline := start.Add(c.timeout)
	for {
		ev, ok := s.next(deadline)
		switch {
		case !ok && s.ended == nil:
			return fail("no pong within %v of a ping", c.timeout)
		case !ok:
			return fail("the connection had ended: %s", describeEnd(s.ended))
		case ev.end != nil:
			return fail("no pong: after a ping %s", describeEnd(ev.end))
		case ev.pong != nil && *ev.pong != payload:
			return fail("the pong's payload is %q, not the ping's %q", *ev.pong, payload)
		case ev.pong != nil:
			return pass("pong in %v", ev.at.Sub(start).Round(time.Microsecond))
		}
		c.observe(s, ev)
	}
}

// closeHandshake sends a close frame and waits for the server's.
func (c *checker) closeHandshake(s *session) result {
	start := time.Now()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "ackcheck done")
	if err := s.ws.WriteControl(websocket.CloseMessage, msg, start.Add(c.timeout)); err != nil {
		return fail("cannot send a close frame: %v", err)
	}
	deadline := start.Add(c.timeout)
	for {
		ev, ok := s.next(deadline)
		var ce *websocket.CloseError
		switch {
		case !ok && s.ended == nil:
			return fail("no close frame within %v of ours: a server answers a close frame with one", c.timeout)
		case !ok:
			return fail("the connection had ended before: %s", describeEnd(s.ended))
		case ev.end == nil:
			c.observe(s, ev)
		case errors.As(ev.end, &ce) && ce.Code != websocket.CloseAbnormalClosure:
			return pass("answered with a close frame (%d) in %v", ce.Code, ev.at.Sub(start).Round(time.Microsecond))
		default:
			return fail("the connection ended without a close frame after ours (%v)", ev.end)
		}
	}
}

// finish closes s as a client should, with a close frame, waiting at most
// the timeout for the answer; it judges nothing but what arrives meanwhile.
func (c *checker) finish(s *session) {
	defer s.close()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if s.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.timeout)) != nil {
		return
	}
	deadline := time.Now().Add(c.timeout)
	for {
		ev, ok := s.next(deadline)
		if !ok || ev.end != nil {
			return
		}
		c.observe(s, ev)
	}
}

// events makes n frame: event messages, each an event as the websocket
// output encodes it by default.
func (c *checker) events(s *session, n int) [][]byte {
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = c.event(nil, s, int(s.sent.Load())+i+1, 0)
	}
	return msgs
}

// batches makes the frame: batch messages: eventsPerBatch events each,
// each ended by protocol.EventEnd.
func (c *checker) batches(s *session) [][]byte {
	msgs := make([][]byte, batchMessages)
	for i := range msgs {
		for e := 1; e <= eventsPerBatch; e++ {
			msgs[i] = append(c.event(msgs[i], s, int(s.sent.Load())+i+1, e), protocol.EventEnd)
		}
	}
	return msgs
}

// event appends one encoded event: of message n on s, the e-th of a batch.
func (c *checker) event(dst []byte, s *session, n, e int) []byte {
	text := fmt.Sprintf("ackcheck: connection %d, message %d", s.id, n)
	if e > 0 {
		text += fmt.Sprintf(", event %d", e)
	}
	return c.enc.Append(dst, time.Now(), text)
}

func describeHighest(s *session) string {
	if s.acks == 0 {
		return "none"
	}
	return fmt.Sprintf(`{"ack":%d}`, s.highest)
}
