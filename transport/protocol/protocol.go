// Package protocol is what the websocket output and a server agree on
// (PROTOCOL.md): the subprotocol beats-ack.v1, its acknowledgements, and
// how frame: batch puts several events in one message. It uses the
// standard library only, so that the client, the reference receiver, the
// tests' servers and a conformance checker share one definition.
package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Subprotocol is the WebSocket subprotocol a client offers with
// ack.enabled; a server that selects it acknowledges what it has received.
const Subprotocol = "beats-ack.v1"

// MaxAckLen is the longest text message taken for an acknowledgement; an
// ack is a few bytes, so anything longer is not one.
const MaxAckLen = 256

// ErrNotAck is why a message from the server is not an acknowledgement.
var ErrNotAck = errors.New(`not an acknowledgement ({"ack":N})`)

// ParseAck reads a server's acknowledgement, {"ack":N}: N data messages
// received on this connection so far, a non-negative integer that fits in
// 64 bits. White space and other fields are allowed, as in any JSON object.
// Its errors wrap ErrNotAck.
func ParseAck(msg []byte) (uint64, error) {
	if len(msg) > MaxAckLen {
		return 0, fmt.Errorf("%w: %d bytes", ErrNotAck, len(msg))
	}
	if n, ok := parseCompactAck(msg); ok {
		return n, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(msg, &fields); err != nil {
		return 0, fmt.Errorf("%w: %q", ErrNotAck, msg)
	}
	raw, ok := fields["ack"]
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrNotAck, msg)
	}
	n, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrNotAck, msg)
	}
	return n, nil
}

// parseCompactAck reads the usual form, {"ack":N} exactly, without
// allocating; ok is false for anything else, which ParseAck then decodes
// as JSON.
func parseCompactAck(msg []byte) (n uint64, ok bool) {
	const prefix = `{"ack":`
	if len(msg) < len(prefix)+2 || string(msg[:len(prefix)]) != prefix || msg[len(msg)-1] != '}' {
		return 0, false
	}
	digits := msg[len(prefix) : len(msg)-1]
	if len(digits) > 1 && digits[0] == '0' {
		return 0, false // not JSON
	}
	for _, d := range digits {
		if d < '0' || d > '9' {
			return 0, false
		}
		v := uint64(d - '0')
		if n > (math.MaxUint64-v)/10 {
			return 0, false // overflows: let the decoder say so
		}
		n = n*10 + v
	}
	return n, true
}

// AppendAck appends the acknowledgement of n messages, {"ack":n}, to dst.
func AppendAck(dst []byte, n uint64) []byte {
	dst = append(dst, `{"ack":`...)
	dst = strconv.AppendUint(dst, n, 10)
	return append(dst, '}')
}

// EventEnd ends each event in a frame: batch message, the last one too; so
// an event in such a message cannot contain it.
const EventEnd = '\n'

// IsBatch says whether msg is a frame: batch message, which ends with
// EventEnd; a frame: event message is one event, whose encoding (JSON)
// does not.
func IsBatch(msg []byte) bool {
	return len(msg) > 0 && msg[len(msg)-1] == EventEnd
}

// Events calls fn with each event of a frame: batch message, without its
// EventEnd, in order. A message whose last event lacks EventEnd is not one
// the websocket output sends: that part is passed to fn as well, and
// complete reports false.
func Events(msg []byte, fn func(event []byte)) (complete bool) {
	for len(msg) > 0 {
		event, rest, found := bytes.Cut(msg, []byte{EventEnd})
		fn(event)
		if !found {
			return false
		}
		msg = rest
	}
	return true
}
