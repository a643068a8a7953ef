// Package encode turns Filebeat events into the websocket output's message
// format, the original design's
//
//	{"timestamp":"2006-01-02T15:04:05.000000000Z","message":"..."}
//
// The result is always valid JSON and valid UTF-8 (WebSocket text frames must
// be): the message is escaped by go-structform, the JSON writer libbeat's own
// codecs use, which replaces invalid UTF-8 with U+FFFD.
package encode

import (
	"bytes"
	"fmt"

	structjson "github.com/elastic/go-structform/json"

	"github.com/elastic/beats/v7/libbeat/beat"
)

// TimestampLayout is RFC 3339 in UTC with a fixed nine-digit fraction, so
// timestamps sort as text and never lose precision.
const TimestampLayout = "2006-01-02T15:04:05.000000000Z"

// DropError says why an event cannot be encoded. Such an event must be
// dropped, not retried: encoding it again gives the same answer.
type DropError struct {
	// Reason is a short, content-free description ("no message field").
	Reason string
	// Size is the message length in bytes, or 0 when there is no message.
	Size int
}

func (e *DropError) Error() string {
	if e.Size > 0 {
		return fmt.Sprintf("%s (%d bytes)", e.Reason, e.Size)
	}
	return e.Reason
}

// Encoder encodes events into a buffer it reuses. It is not safe for
// concurrent use: each client owns one.
type Encoder struct {
	maxLen int
	buf    bytes.Buffer
	str    *structjson.Visitor
}

// New returns an Encoder that drops events whose message is longer than
// maxLen bytes; maxLen 0 means no limit.
func New(maxLen int) *Encoder {
	e := &Encoder{maxLen: maxLen}
	e.str = structjson.NewVisitor(&e.buf)
	e.str.SetEscapeHTML(false)
	return e
}

// Encode returns the message for ev, or a *DropError when ev has no string
// "message" field or its message is longer than the limit. The returned
// slice is only valid until the next call to Encode.
func (e *Encoder) Encode(ev *beat.Event) ([]byte, error) {
	msg, err := e.message(ev)
	if err != nil {
		return nil, err
	}

	e.buf.Reset()
	e.buf.WriteString(`{"timestamp":"`)
	e.buf.Write(ev.Timestamp.UTC().AppendFormat(e.buf.AvailableBuffer(), TimestampLayout))
	e.buf.WriteString(`","message":`)
	// Writes to a bytes.Buffer cannot fail.
	_ = e.str.OnString(msg)
	e.buf.WriteByte('}')
	return e.buf.Bytes(), nil
}

func (e *Encoder) message(ev *beat.Event) (string, error) {
	v, ok := ev.Fields["message"]
	if !ok {
		return "", &DropError{Reason: "no message field"}
	}
	msg, ok := v.(string)
	if !ok {
		return "", &DropError{Reason: fmt.Sprintf("message is a %T, not a string", v)}
	}
	if e.maxLen > 0 && len(msg) > e.maxLen {
		return "", &DropError{
			Reason: fmt.Sprintf("message longer than max_len %d", e.maxLen),
			Size:   len(msg),
		}
	}
	return msg, nil
}
