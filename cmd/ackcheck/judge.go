package main

import (
	"fmt"
	"strings"
	"time"
)

// The checks, in the order of the checklist.
const (
	checkSubprotocol = iota
	checkCountsFrom1
	checkFrameEvent
	checkRestart
	checkFrameBatch
	checkWellFormed
	checkCumulative
	checkWithinSent
	checkInTime
	checkPing
	checkClose
	numChecks
)

// checkNames are what the checklist calls the checks.
var checkNames = [numChecks]string{
	checkSubprotocol: "subprotocol selected",
	checkCountsFrom1: "count starts at 1",
	checkFrameEvent:  "frame: event accepted",
	checkRestart:     "count restarts per connection",
	checkFrameBatch:  "frame: batch accepted",
	checkWellFormed:  "acks well-formed",
	checkCumulative:  "acks never decrease",
	checkWithinSent:  "acks never beyond what was sent",
	checkInTime:      "acks in time",
	checkPing:        "ping answered",
	checkClose:       "close answered",
}

type status int

const (
	notChecked status = iota
	passed
	failed
)

// result is one check's verdict and the reason for it.
type result struct {
	status status
	detail string
}

func pass(format string, args ...interface{}) result {
	return result{passed, fmt.Sprintf(format, args...)}
}

func fail(format string, args ...interface{}) result {
	return result{failed, fmt.Sprintf(format, args...)}
}

func skip(why string) result { return result{notChecked, why} }

type results []result

func newResults() results {
	res := make(results, numChecks)
	for i := range res {
		res[i] = skip("not reached")
	}
	return res
}

// skipRest marks every check after the subprotocol's not checked.
func (res results) skipRest(why string) {
	for i := checkSubprotocol + 1; i < numChecks; i++ {
		res[i] = skip(why)
	}
}

// skipAckChecks marks the checks that need acks not checked.
func (res results) skipAckChecks(why string) {
	for _, i := range []int{checkCountsFrom1, checkFrameEvent, checkRestart, checkFrameBatch} {
		res[i] = skip(why)
	}
}

// judgeFirst: the ack of the first message on a connection is 1.
func judgeFirst(w wait, timeout time.Duration) result {
	switch {
	case w.reached && w.highest() == 1:
		return pass(`the first message was acknowledged with {"ack":1}`)
	case w.reached:
		return fail("after 1 message the server acknowledged %d: it counts the data messages received on this connection, so the first ack is 1", w.highest())
	case w.anyAck():
		return fail(`after 1 message the server acknowledged %d and nothing more within %v: it counts from 0? The first message on a connection is 1, so {"ack":1} acknowledges it`, w.highest(), timeout)
	case w.ended != nil:
		return fail("after 1 message %s", describeEnd(w.ended))
	default:
		return skip("no ack arrived")
	}
}

// judgeEvents: frame: event messages are acknowledged, one count each;
// base is the server's ack of the first message.
func judgeEvents(w wait, base uint64, timeout time.Duration) result {
	n := w.highest() - base + 1 // messages acknowledged, as the server counts
	switch {
	case w.reached && n == eventMessages:
		return pass("%d event messages acknowledged, with %d acks", eventMessages, w.session.acks)
	case w.reached:
		return fail("after %d event messages the server acknowledged %d", eventMessages, w.highest())
	case w.ended != nil:
		return fail("after event messages %s, with %d of %d acknowledged", describeEnd(w.ended), n, eventMessages)
	default:
		return fail("%d of %d event messages acknowledged within %v", n, eventMessages, timeout)
	}
}

// judgeRestart: a new connection counts as the first did (base: its ack of
// message 1), not on from the first's prevHighest.
func judgeRestart(w wait, base, prevHighest, prevSent uint64, timeout time.Duration) result {
	switch {
	case w.anyAck() && w.highest() == base:
		return pass(`the first message on a new connection was acknowledged with {"ack":%d}, as on the first connection`, base)
	case w.anyAck() && w.highest() > base && (w.highest() == prevHighest+1 || w.highest() == prevSent+1):
		return fail(`the first message on a new connection was acknowledged with {"ack":%d}: the count went on from the previous connection's; it must start at 0 on every connection`, w.highest())
	case w.anyAck():
		return fail(`the first message on a new connection was acknowledged with {"ack":%d}, the first connection's with {"ack":%d}; the count must start at 0 on every connection`, w.highest(), base)
	case w.ended != nil:
		return fail("after 1 message on a new connection %s", describeEnd(w.ended))
	default:
		return fail("no ack within %v of the first message on a new connection", timeout)
	}
}

// judgeBatch: frame: batch messages are accepted and each counts as one;
// base is the ack of the event message before them.
func judgeBatch(w wait, base uint64, timeout time.Duration) result {
	n := w.highest() - base // as the server counts
	switch {
	case w.reached && n == batchMessages:
		return pass("%d batch messages of %d newline-terminated events acknowledged as %d messages", batchMessages, eventsPerBatch, batchMessages)
	case w.reached && n == batchMessages*eventsPerBatch:
		return fail("%d batch messages of %d events were acknowledged as %d: the server counts events, but a batch message counts as one", batchMessages, eventsPerBatch, n)
	case w.reached:
		return fail("%d batch messages were acknowledged as %d; each counts as one", batchMessages, n)
	case w.ended != nil:
		return fail("after a batch message (newline-terminated events) %s", describeEnd(w.ended))
	default:
		return fail("%d of %d batch messages acknowledged within %v", n, batchMessages, timeout)
	}
}

// judgeAcks: every message from the server is an ack; acks never decrease
// and never cover more than was sent.
func (c *checker) judgeAcks() (wellFormed, cumulative, withinSent result) {
	switch {
	case len(c.malformed) > 0:
		wellFormed = fail("%d of %d messages from the server are not acks (Filebeat ignores them): %s", len(c.malformed), c.fromServer, first(c.malformed))
	case c.fromServer == 0:
		wellFormed = skip("the server sent no message")
	default:
		wellFormed = pass(`all %d messages from the server were {"ack":N}`, c.fromServer)
	}
	switch {
	case len(c.decreases) > 0:
		cumulative = fail("%d acks lower than one before them: %s; an ack covers every message up to N, so N never decreases", len(c.decreases), first(c.decreases))
	case c.acks < 2:
		cumulative = skip("fewer than two acks")
	default:
		cumulative = pass("%d acks, none lower than the one before", c.acks)
	}
	switch {
	case len(c.beyond) > 0:
		withinSent = fail("%d acks of messages not yet sent: %s; Filebeat takes that for a protocol error and closes the connection", len(c.beyond), first(c.beyond))
	case c.acks == 0:
		withinSent = skip("no ack arrived")
	default:
		withinSent = pass("no ack covered a message not yet sent")
	}
	return wellFormed, cumulative, withinSent
}

// judgeInTime: every ack awaited arrived within the timeout.
func (c *checker) judgeInTime() result {
	switch {
	case len(c.late) > 0:
		return fail("%s", strings.Join(c.late, "; "))
	case c.acks == 0:
		return skip("no ack awaited")
	default:
		return pass("each within %v (the slowest in %v)", c.timeout, c.slowest.Round(time.Microsecond))
	}
}

// first shows the first of several findings.
func first(findings []string) string {
	if len(findings) > 1 {
		return findings[0] + fmt.Sprintf(" (and %d more)", len(findings)-1)
	}
	return findings[0]
}
