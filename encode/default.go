package encode

import (
	"github.com/elastic/beats/v7/libbeat/beat"

	"github.com/beats-websocket/websocket-output/transport/format"
)

// TimestampLayout is the default format's timestamp (format.TimestampLayout).
const TimestampLayout = format.TimestampLayout

// Default encodes events in the original {"timestamp","message"} format
// (format.Default).
type Default struct {
	maxLen int
	format format.Default
}

// NewDefault returns the default encoder. It drops events with no string
// message or a message longer than maxLen bytes; maxLen 0 means no limit.
func NewDefault(maxLen int) *Default {
	return &Default{maxLen: maxLen}
}

// Append implements Encoder.
func (e *Default) Append(dst []byte, ev *beat.Event) ([]byte, error) {
	msg, err := message(ev, e.maxLen, true)
	if err != nil {
		return dst, err
	}
	return e.format.Append(dst, ev.Timestamp, msg), nil
}
