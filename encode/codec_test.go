package encode

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/common/fmtstr"
	"github.com/elastic/beats/v7/libbeat/outputs/codec"
	"github.com/elastic/beats/v7/libbeat/outputs/codec/format"
	codecjson "github.com/elastic/beats/v7/libbeat/outputs/codec/json"
)

func jsonCodec(opts CodecOptions) *Codec {
	return NewCodec(codecjson.New(testBeatsVersion, codecjson.Config{}), "filebeat", opts)
}

func formatCodec(t *testing.T, f string, opts CodecOptions) *Codec {
	t.Helper()
	fs, err := fmtstr.CompileEvent(f)
	if err != nil {
		t.Fatal(err)
	}
	return NewCodec(format.New(fs), "filebeat", opts)
}

func TestCodec_JSONSendsTheWholeEvent(t *testing.T) {
	ev := event("hello")
	ev.Fields["log"] = mapStr{"offset": 42}
	b, err := jsonCodec(CodecOptions{Text: true}).Append(nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]interface{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	if m["message"] != "hello" || m["@timestamp"] != "2024-03-01T11:30:45.123Z" || m["log"].(map[string]interface{})["offset"] != 42.0 {
		t.Fatalf("codec.json gave %s", b)
	}
	if meta := m["@metadata"].(map[string]interface{}); meta["beat"] != "filebeat" {
		t.Fatalf("@metadata %v", meta)
	}
}

func TestCodec_MaxLenAppliesToTheMessage(t *testing.T) {
	enc := jsonCodec(CodecOptions{MaxLen: 5})
	if _, err := enc.Append(nil, event("12345")); err != nil {
		t.Fatalf("message of exactly max_len: %v", err)
	}
	var drop *DropError
	if _, err := enc.Append(nil, event("123456")); !errors.As(err, &drop) || drop.Size != 6 {
		t.Fatalf("message of max_len+1: %v", err)
	}
	// The whole event is sent, so an event without a message is not an error.
	noMessage := &beat.Event{Fields: mapStr{"other": strings.Repeat("x", 100)}}
	if _, err := enc.Append(nil, noMessage); err != nil {
		t.Fatalf("event without message: %v", err)
	}
}

func TestCodec_TextFramesGetValidUTF8(t *testing.T) {
	msg := "ok\xff\xfe bad \xc3("
	text := formatCodec(t, "%{[message]}", CodecOptions{Text: true})
	b, err := text.Append(nil, event(msg))
	if err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(b) || string(b) != string([]rune(msg)) {
		t.Fatalf("text: got %q, want %q", b, string([]rune(msg)))
	}

	binary := formatCodec(t, "%{[message]}", CodecOptions{Text: false})
	if b, _ := binary.Append(nil, event(msg)); string(b) != msg {
		t.Fatalf("binary frames carry the bytes as they are: got %q", b)
	}
}

func TestCodec_SingleLineDropsEventsThatWouldSplitABatch(t *testing.T) {
	enc := formatCodec(t, "%{[message]}", CodecOptions{Text: true, SingleLine: true})
	var drop *DropError
	if b, err := enc.Append([]byte("kept"), event("first\nsecond")); !errors.As(err, &drop) || string(b) != "kept" {
		t.Fatalf("multi-line event in a batch: got %q, %v", b, err)
	}
	if !strings.Contains(drop.Error(), "newline") {
		t.Fatalf("drop reason %q", drop)
	}
	// codec.json escapes newlines: fine in a batch.
	if _, err := jsonCodec(CodecOptions{SingleLine: true}).Append(nil, event("first\nsecond")); err != nil {
		t.Fatal(err)
	}
}

func TestCodec_FailingCodecDropsTheEvent(t *testing.T) {
	enc := formatCodec(t, "%{[missing.field]}", CodecOptions{Text: true})
	var drop *DropError
	if b, err := enc.Append(nil, event("x")); !errors.As(err, &drop) || len(b) != 0 {
		t.Fatalf("got %q, %v; want a DropError", b, err)
	}
}

func BenchmarkEncode_CodecJSON(b *testing.B) {
	benchmarkEncoder(b, jsonCodec(CodecOptions{Text: true, SingleLine: true}))
}

func BenchmarkEncode_CodecFormat(b *testing.B) {
	fs, err := fmtstr.CompileEvent("%{[message]}")
	if err != nil {
		b.Fatal(err)
	}
	benchmarkEncoder(b, NewCodec(format.New(fs), "filebeat", CodecOptions{Text: true, SingleLine: true}))
}

// fuzzFormats are the codec.format strings FuzzCodec picks from.
var fuzzFormats = []string{"%{[message]}", "%{[@timestamp]} %{[message]}", "%{[message]}|%{[extra]}"}

// FuzzCodec: whatever the event (any message, or none, or not a string;
// any field names; nesting up to encoding/json's limit) and whatever the
// options, the codec encoder either appends what libbeat's codec makes of
// the event, with invalid UTF-8 replaced in text frames, or drops the event
// with a DropError for a reason it has: max_len, the codec failing, or a
// newline with frame: batch. Text frames are valid UTF-8, batch frames one
// line, codec.json valid JSON whose message and fields come back.
func FuzzCodec(f *testing.F) {
	f.Add("hello", "log", "value", uint16(2), byte(0), byte(fuzzText|fuzzJSON), uint16(0))
	f.Fuzz(func(t *testing.T, msg, key, value string, depth uint16, shape, opts byte, maxLen uint16) {
		depth %= 9000 // with the event around it, under encoding/json's limit of 10000
		if opts&fuzzPretty != 0 {
			depth %= 100 // indentation grows with the square of the depth
		}
		ev := fuzzEvent(msg, key, value, int(depth), shape)
		newCodec := func() codec.Codec {
			if opts&fuzzJSON != 0 {
				return codecjson.New(testBeatsVersion, codecjson.Config{Pretty: opts&fuzzPretty != 0, EscapeHTML: opts&fuzzEscapeHTML != 0})
			}
			fs, err := fmtstr.CompileEvent(fuzzFormats[int(opts>>6)%len(fuzzFormats)])
			if err != nil {
				t.Fatal(err)
			}
			return format.New(fs)
		}
		o := CodecOptions{MaxLen: int(maxLen), Text: opts&fuzzText != 0, SingleLine: opts&fuzzSingleLine != 0}
		prefix := []byte("earlier events\n")
		out, err := NewCodec(newCodec(), "filebeat", o).Append(prefix[:len(prefix):len(prefix)], ev)

		// What it should have done, from the codec's own output.
		raw, rawErr := newCodec().Encode("filebeat", ev)
		_, isString := ev.Fields["message"].(string)
		var want string
		switch {
		case isString && o.MaxLen > 0 && len(msg) > o.MaxLen:
			want = "drop: max_len"
		case rawErr != nil:
			want = "drop: codec failed"
		case o.SingleLine && bytes.IndexByte(raw, '\n') >= 0:
			want = "drop: newline"
		}
		if err != nil {
			var drop *DropError
			if !errors.As(err, &drop) {
				t.Fatalf("error %v is not a DropError", err)
			}
			if want == "" {
				t.Fatalf("dropped (%v), but the codec gave %q", err, raw)
			}
			if size := map[string]int{"drop: max_len": len(msg), "drop: newline": len(raw)}[want]; drop.Size != size {
				t.Fatalf("%v: size %d, want %d for a %s", err, drop.Size, size, want)
			}
			if string(out) != string(prefix) {
				t.Fatalf("a dropped event changed the buffer to %q", out)
			}
			return
		}
		if want != "" {
			t.Fatalf("sent %q, want a %s", out, want)
		}
		got, ok := bytes.CutPrefix(out, prefix)
		if !ok {
			t.Fatalf("the bytes before the event changed: %q", out)
		}
		if o.Text {
			raw = []byte(string([]rune(string(raw)))) // each invalid byte becomes U+FFFD
		}
		if !sameEncoding(got, raw, opts&fuzzJSON != 0) {
			t.Fatalf("sent %q, the codec gave %q", got, raw)
		}
		if o.Text && !utf8.Valid(got) {
			t.Fatalf("text frame is not valid UTF-8: %q", got)
		}
		if o.SingleLine && bytes.IndexByte(got, '\n') >= 0 {
			t.Fatalf("batch frame event spans lines: %q", got)
		}
		if opts&fuzzJSON != 0 {
			checkCodecJSON(t, got, ev, key)
		}
	})
}

// Bits of FuzzCodec's opts; the top two pick the format.
const (
	fuzzText = 1 << iota
	fuzzSingleLine
	fuzzJSON
	fuzzPretty
	fuzzEscapeHTML
)

// fuzzEvent makes an event with a message of the shape's kind (string, none,
// number, object; bit 2: a list of it) and, under key, value nested depth
// objects deep. A message of the right kind wins over key "message".
func fuzzEvent(msg, key, value string, depth int, shape byte) *beat.Event {
	var nested interface{} = value
	for i := 0; i < depth; i++ {
		nested = mapStr{key: nested}
	}
	ev := event(msg)
	ev.Fields = mapStr{"extra": value, key: nested}
	var m interface{}
	switch shape & 3 {
	case 0:
		m = msg
	case 1:
		return ev
	case 2:
		m = int64(len(msg))
	case 3:
		m = mapStr{"text": msg, "n": math.NaN(), "inf": math.Inf(-1)}
	}
	if shape&4 != 0 {
		m = []interface{}{m, nil, 1.5}
	}
	ev.Fields["message"] = m
	return ev
}

// sameEncoding says whether a and b are the same encoding of an event: the
// same bytes, or for JSON the same values (the fields of an event are a map,
// which codec.json writes in no particular order).
func sameEncoding(a, b []byte, isJSON bool) bool {
	if !isJSON {
		return bytes.Equal(a, b)
	}
	var av, bv interface{}
	return json.Unmarshal(a, &av) == nil && json.Unmarshal(b, &bv) == nil && reflect.DeepEqual(av, bv)
}

// checkCodecJSON checks that got is one JSON object which gives back the
// event's message and its field under key, invalid UTF-8 replaced.
func checkCodecJSON(t *testing.T, got []byte, ev *beat.Event, key string) {
	t.Helper()
	if !json.Valid(got) {
		t.Fatalf("codec.json gave invalid JSON: %q", got)
	}
	var m map[string]interface{}
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatalf("codec.json gave %q: %v", got, err)
	}
	if msg, ok := ev.Fields["message"].(string); ok && m["message"] != string([]rune(msg)) {
		t.Fatalf("message %q came back as %q", msg, m["message"])
	}
	switch key {
	case "message", "@timestamp", "@metadata", "extra":
		return // written twice, or overwritten: checked elsewhere or not at all
	}
	want, err := json.Marshal(ev.Fields[key])
	if err != nil {
		t.Fatal(err)
	}
	var wantValue interface{}
	if err := json.Unmarshal(want, &wantValue); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m[string([]rune(key))], wantValue) {
		t.Fatalf("field %q came back as %.200v, want %.200v", key, m[string([]rune(key))], wantValue)
	}
}
