// Package encode turns Filebeat events into the websocket output's wire
// form. Without a codec configured, that is the original design's
//
//	{"timestamp":"2006-01-02T15:04:05.000000000Z","message":"..."}
//
// (Default); with Filebeat's standard codec setting, it is what libbeat's
// codec makes of the whole event (Codec). Either way text frames get valid
// UTF-8 only, and max_len drops events whose message is too long.
package encode

import (
	"fmt"

	"github.com/elastic/beats/v7/libbeat/beat"
)

// Encoder appends the wire form of one event to dst. On error it returns
// dst unchanged and a *DropError: the event cannot be sent and must be
// dropped, not retried. Implementations reuse internal state and are not
// safe for concurrent use: each client owns one.
type Encoder interface {
	Append(dst []byte, ev *beat.Event) ([]byte, error)
}

// DropError says why an event cannot be encoded. Encoding it again gives
// the same answer, so such an event is dropped and counted, not retried.
type DropError struct {
	// Reason is a short description that never quotes the event.
	Reason string
	// Size is the length in bytes of what was refused (the message, or the
	// encoded event), or 0 when there was nothing to measure.
	Size int
}

func (e *DropError) Error() string {
	if e.Size > 0 {
		return fmt.Sprintf("%s (%d bytes)", e.Reason, e.Size)
	}
	return e.Reason
}

// message returns the event's "message" field. required says whether an
// event without a string message is an error (the original format has
// nothing else to send) or simply has no message to limit (a codec sends
// the whole event).
func message(ev *beat.Event, maxLen int, required bool) (string, error) {
	v, ok := ev.Fields["message"]
	if !ok {
		if required {
			return "", &DropError{Reason: "no message field"}
		}
		return "", nil
	}
	msg, ok := v.(string)
	if !ok {
		if required {
			return "", &DropError{Reason: fmt.Sprintf("message is a %T, not a string", v)}
		}
		return "", nil
	}
	if maxLen > 0 && len(msg) > maxLen {
		return "", &DropError{
			Reason: fmt.Sprintf("message longer than max_len %d", maxLen),
			Size:   len(msg),
		}
	}
	return msg, nil
}
