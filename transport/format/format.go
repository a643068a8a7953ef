// Package format is how the websocket output writes events, free of Beats:
// the default {"timestamp","message"} JSON, and what the frames around an
// event require of a codec's output (valid UTF-8 in text messages, one
// line per event in a frame: batch message). Each Beats line's encoders
// take the timestamp and message, or a codec's output, from its events.
package format

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

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

// Message checks an event's "message" field, v (present says whether the
// event has one), and returns it. required says whether an event without a
// string message is an error (the default format has nothing else to
// send) or simply has no message to limit (a codec sends the whole
// event). A message longer than maxLen bytes is an error; maxLen 0 means
// no limit.
func Message(v interface{}, present bool, maxLen int, required bool) (string, error) {
	if !present {
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

// Finish appends out, an event as a codec encoded it, to dst, as the
// frame around it requires: with text, invalid UTF-8 becomes U+FFFD (text
// messages must be valid UTF-8); with singleLine (frame: batch), an
// encoding that contains protocol.EventEnd is refused, with dst unchanged.
func Finish(dst, out []byte, text, singleLine bool) ([]byte, error) {
	if singleLine && bytes.IndexByte(out, protocol.EventEnd) >= 0 {
		return dst, &DropError{Reason: "encoded event contains a newline, which frame: batch uses to separate events", Size: len(out)}
	}
	if text && !utf8.Valid(out) {
		return appendValidUTF8(dst, out), nil
	}
	return append(dst, out...), nil
}

// appendValidUTF8 appends b with each invalid byte replaced by U+FFFD, as
// the default encoder and encoding/json do.
func appendValidUTF8(dst, b []byte) []byte {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, b[:size]...)
		}
		b = b[size:]
	}
	return dst
}
