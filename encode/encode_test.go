package encode

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/common"
)

type message struct {
	Timestamp string `json:"timestamp"`
	Message   string `json:"message"`
}

func event(msg interface{}) *beat.Event {
	return &beat.Event{
		Timestamp: time.Date(2024, 3, 1, 12, 30, 45, 123456789, time.FixedZone("CET", 3600)),
		Fields:    common.MapStr{"message": msg},
	}
}

// decode checks the wire properties every message must have and returns it.
func decode(t *testing.T, b []byte) message {
	t.Helper()
	if !utf8.Valid(b) {
		t.Fatalf("not valid UTF-8: %q", b)
	}
	if !json.Valid(b) {
		t.Fatalf("not valid JSON: %q", b)
	}
	var m message
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return m
}

func TestEncode_OriginalFormatWithUTCNanosecondTimestamp(t *testing.T) {
	got, err := New(0).Encode(event("hello"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"timestamp":"2024-03-01T11:30:45.123456789Z","message":"hello"}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestEncode_HostileMessagesGiveValidJSONAndUTF8(t *testing.T) {
	cases := map[string]string{
		"empty":            "",
		"quotes":           `say "hi" \ back\slash`,
		"control":          "a\x00b\x01c\x1fd\te\nf\rg",
		"html":             "<script>&amp;</script>",
		"line separators":  "a\u2028b\u2029c",
		"multibyte":        "żółć 日本語 🎉",
		"invalid utf8":     "ok\xff\xfe\xc3(bad\xe2\x82",
		"lone surrogate":   "\xed\xa0\x80",
		"overlong":         "\xc0\xaf",
		"truncated at end": "abc\xf0\x9f\x8e",
		"json lookalike":   `{"message":"x"}`,
		"long":             strings.Repeat("x\"\\\x00é", 10000),
	}
	enc := New(0)
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := enc.Encode(event(msg))
			if err != nil {
				t.Fatal(err)
			}
			m := decode(t, b)
			// Valid UTF-8 comes back unchanged; each invalid byte becomes
			// U+FFFD, as a conversion to runes does.
			if want := string([]rune(msg)); m.Message != want {
				t.Fatalf("message round trip: got %q, want %q", m.Message, want)
			}
			if m.Timestamp != "2024-03-01T11:30:45.123456789Z" {
				t.Fatalf("timestamp %q", m.Timestamp)
			}
		})
	}
}

func TestEncode_MaxLenKeepsExactlyMaxLenAndDropsOneMore(t *testing.T) {
	enc := New(10)
	if _, err := enc.Encode(event(strings.Repeat("a", 10))); err != nil {
		t.Fatalf("message of exactly max_len bytes: %v", err)
	}
	_, err := enc.Encode(event(strings.Repeat("a", 11)))
	var drop *DropError
	if !errors.As(err, &drop) {
		t.Fatalf("message of max_len+1 bytes: got %v, want a DropError", err)
	}
	if drop.Size != 11 || !strings.Contains(drop.Error(), "max_len 10") {
		t.Fatalf("drop error should give size and limit, got %+v (%v)", drop, drop)
	}
}

func TestEncode_MaxLenCountsBytesNotCharacters(t *testing.T) {
	// Five characters, ten bytes.
	if _, err := New(9).Encode(event("ééééé")); err == nil {
		t.Fatal("10-byte message passed max_len 9")
	}
	if _, err := New(10).Encode(event("ééééé")); err != nil {
		t.Fatalf("10-byte message dropped at max_len 10: %v", err)
	}
}

func TestEncode_DropsEventsWithoutAStringMessage(t *testing.T) {
	cases := map[string]*beat.Event{
		"nil fields":   {Timestamp: time.Now()},
		"no message":   {Timestamp: time.Now(), Fields: common.MapStr{"msg": "x"}},
		"number":       event(42),
		"nil":          event(nil),
		"bytes":        event([]byte("x")),
		"nested":       event(common.MapStr{"text": "x"}),
		"string slice": event([]string{"x"}),
	}
	enc := New(0)
	for name, ev := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := enc.Encode(ev)
			var drop *DropError
			if !errors.As(err, &drop) {
				t.Fatalf("got %q, %v; want a DropError", b, err)
			}
			if drop.Size != 0 {
				t.Fatalf("size %d for an event without a string message", drop.Size)
			}
		})
	}
}

func TestEncode_ReusesItsBuffer(t *testing.T) {
	enc := New(0)
	ev := event("steady state")
	if _, err := enc.Encode(ev); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := enc.Encode(ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Fatalf("%v allocations per event, want 0", allocs)
	}
}

func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "plain", "\x00\xff\"\\", "\u2028", "é\xc3", `{"a":1}`} {
		f.Add(s, 0)
	}
	f.Fuzz(func(t *testing.T, msg string, maxLen int) {
		if maxLen < 0 {
			maxLen = -maxLen
		}
		b, err := New(maxLen).Encode(event(msg))
		if err != nil {
			if maxLen == 0 || len(msg) <= maxLen {
				t.Fatalf("dropped %q under max_len %d: %v", msg, maxLen, err)
			}
			return
		}
		if m := decode(t, b); m.Message != string([]rune(msg)) {
			t.Fatalf("round trip of %q gave %q", msg, m.Message)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	enc := New(0)
	ev := event(strings.Repeat("2024-03-01 12:30:45 INFO request served path=/api/v1/items status=200 ", 3))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		out, err := enc.Encode(ev)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(out)))
	}
}
