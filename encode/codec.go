package encode

import (
	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/outputs/codec"

	"github.com/beats-websocket/websocket-output/transport/format"
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
	return format.Finish(dst, out, e.opts.Text, e.opts.SingleLine)
}
