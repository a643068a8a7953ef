package encode

import (
	"bytes"
	"unicode/utf8"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/outputs/codec"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// CodecOptions say what the frames around a codec's output require.
type CodecOptions struct {
	// MaxLen drops events whose message is longer than this many bytes;
	// 0 means no limit. Events without a string message are sent as they are.
	MaxLen int
	// Text frames must carry valid UTF-8: invalid bytes become U+FFFD.
	Text bool
	// SingleLine drops events whose encoding contains a newline, for
	// frame: batch, which separates events with newlines.
	SingleLine bool
}

// Codec encodes whole events with one of libbeat's codecs (codec.json,
// codec.format), as Filebeat's own outputs do.
type Codec struct {
	codec codec.Codec
	index string
	opts  CodecOptions
}

// NewCodec wraps c, which encodes each event for index (the beat's name,
// as libbeat's outputs pass it).
func NewCodec(c codec.Codec, index string, opts CodecOptions) *Codec {
	return &Codec{codec: c, index: index, opts: opts}
}

// Append implements Encoder.
func (e *Codec) Append(dst []byte, ev *beat.Event) ([]byte, error) {
	if _, err := message(ev, e.opts.MaxLen, false); err != nil {
		return dst, err
	}
	out, err := e.codec.Encode(e.index, ev)
	if err != nil {
		return dst, &DropError{Reason: "codec failed: " + err.Error()}
	}
	if e.opts.SingleLine && bytes.IndexByte(out, protocol.EventEnd) >= 0 {
		return dst, &DropError{Reason: "encoded event contains a newline, which frame: batch uses to separate events", Size: len(out)}
	}
	if e.opts.Text && !utf8.Valid(out) {
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
