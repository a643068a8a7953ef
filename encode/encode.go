// Package encode turns Filebeat events into the websocket output's wire
// form, with package format, which holds the formats themselves free of
// Beats: this package is the Beats 7.17 line's part, which reads events.
// Without a codec configured, the form is the original design's
//
//	{"timestamp":"2006-01-02T15:04:05.000000000Z","message":"..."}
//
// (Default); with Filebeat's standard codec setting, it is what libbeat's
// codec makes of the whole event (Codec). Either way text frames get valid
// UTF-8 only, and max_len drops events whose message is too long.
package encode

import (
	"github.com/elastic/beats/v7/libbeat/beat"

	"github.com/beats-websocket/websocket-output/transport/format"
)

// Encoder appends the wire form of one event to dst. On error it returns
// dst unchanged and a *DropError: the event cannot be sent and must be
// dropped, not retried. Implementations reuse internal state and are not
// safe for concurrent use: each client owns one.
type Encoder interface {
	Append(dst []byte, ev *beat.Event) ([]byte, error)
}

// DropError says why an event cannot be encoded (format.DropError).
type DropError = format.DropError

// message returns the event's "message" field, as format.Message checks it.
func message(ev *beat.Event, maxLen int, required bool) (string, error) {
	v, ok := ev.Fields["message"]
	return format.Message(v, ok, maxLen, required)
}
