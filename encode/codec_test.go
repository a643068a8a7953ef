package encode

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/common"
	"github.com/elastic/beats/v7/libbeat/common/fmtstr"
	"github.com/elastic/beats/v7/libbeat/outputs/codec/format"
	codecjson "github.com/elastic/beats/v7/libbeat/outputs/codec/json"
)

func jsonCodec(opts CodecOptions) *Codec {
	return NewCodec(codecjson.New("7.17.29", codecjson.Config{}), "filebeat", opts)
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
	ev.Fields["log"] = common.MapStr{"offset": 42}
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
	noMessage := &beat.Event{Fields: common.MapStr{"other": strings.Repeat("x", 100)}}
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
