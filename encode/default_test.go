package encode

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/elastic/beats/v7/libbeat/beat"
)

type wireMessage struct {
	Timestamp string `json:"timestamp"`
	Message   string `json:"message"`
}

func event(msg interface{}) *beat.Event {
	return &beat.Event{
		Timestamp: time.Date(2024, 3, 1, 12, 30, 45, 123456789, time.FixedZone("CET", 3600)),
		Fields:    mapStr{"message": msg},
	}
}

// decode checks the wire properties every message must have and returns it.
func decode(t *testing.T, b []byte) wireMessage {
	t.Helper()
	if !utf8.Valid(b) {
		t.Fatalf("not valid UTF-8: %q", b)
	}
	if !json.Valid(b) {
		t.Fatalf("not valid JSON: %q", b)
	}
	var m wireMessage
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return m
}

func TestDefault_OriginalFormatWithUTCNanosecondTimestamp(t *testing.T) {
	got, err := NewDefault(0).Append(nil, event("hello"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"timestamp":"2024-03-01T11:30:45.123456789Z","message":"hello"}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestDefault_HostileMessagesGiveValidJSONAndUTF8(t *testing.T) {
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
	enc := NewDefault(0)
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := enc.Append(nil, event(msg))
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

func TestDefault_TimestampsMatchTheLayoutAcrossSecondsAndZones(t *testing.T) {
	base := time.Date(2024, 12, 31, 23, 59, 58, 0, time.UTC)
	var times []time.Time
	for _, d := range []time.Duration{0, 1, 999999999, time.Second, time.Second + 5, 2 * time.Second, time.Second, -time.Hour} {
		times = append(times, base.Add(d))
	}
	times = append(times,
		time.Date(1969, 7, 20, 20, 17, 40, 123, time.UTC),
		time.Date(2024, 3, 1, 12, 30, 45, 100, time.FixedZone("UTC-8", -8*3600)),
		time.Time{},
	)
	enc := NewDefault(0)
	for _, ts := range times {
		ev := event("x")
		ev.Timestamp = ts
		b, err := enc.Append(nil, ev)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := decode(t, b).Timestamp, ts.UTC().Format(TimestampLayout); got != want {
			t.Fatalf("timestamp for %v: got %s, want %s", ts, got, want)
		}
	}
}

func TestDefault_MaxLenKeepsExactlyMaxLenAndDropsOneMore(t *testing.T) {
	enc := NewDefault(10)
	if _, err := enc.Append(nil, event(strings.Repeat("a", 10))); err != nil {
		t.Fatalf("message of exactly max_len bytes: %v", err)
	}
	_, err := enc.Append(nil, event(strings.Repeat("a", 11)))
	var drop *DropError
	if !errors.As(err, &drop) {
		t.Fatalf("message of max_len+1 bytes: got %v, want a DropError", err)
	}
	if drop.Size != 11 || !strings.Contains(drop.Error(), "max_len 10") {
		t.Fatalf("drop error should give size and limit, got %+v (%v)", drop, drop)
	}
}

func TestDefault_MaxLenCountsBytesNotCharacters(t *testing.T) {
	// Five characters, ten bytes.
	if _, err := NewDefault(9).Append(nil, event("ééééé")); err == nil {
		t.Fatal("10-byte message passed max_len 9")
	}
	if _, err := NewDefault(10).Append(nil, event("ééééé")); err != nil {
		t.Fatalf("10-byte message dropped at max_len 10: %v", err)
	}
}

func TestDefault_DropsEventsWithoutAStringMessage(t *testing.T) {
	cases := map[string]*beat.Event{
		"nil fields":   {Timestamp: time.Now()},
		"no message":   {Timestamp: time.Now(), Fields: mapStr{"msg": "x"}},
		"number":       event(42),
		"nil":          event(nil),
		"bytes":        event([]byte("x")),
		"nested":       event(mapStr{"text": "x"}),
		"string slice": event([]string{"x"}),
	}
	enc := NewDefault(0)
	for name, ev := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := enc.Append(nil, ev)
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

func TestDefault_AppendsWithoutAllocating(t *testing.T) {
	enc := NewDefault(0)
	ev := event("steady state")
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := enc.Append(buf[:0], ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Fatalf("%v allocations per event, want 0", allocs)
	}
}

func TestDefault_AppendsAfterExistingBytesAndLeavesThemOnDrop(t *testing.T) {
	enc := NewDefault(5)
	buf := []byte("prefix\n")
	buf, err := enc.Append(buf, event("hello"))
	if err != nil {
		t.Fatal(err)
	}
	before := string(buf)
	buf, err = enc.Append(buf, event("too long"))
	if err == nil || string(buf) != before {
		t.Fatalf("a dropped event changed the buffer: %q, %v", buf, err)
	}
	if !strings.HasPrefix(before, "prefix\n{") {
		t.Fatalf("got %q", before)
	}
}

// FuzzDefault: for any message, max_len and timestamps, the default
// encoder appends one line of valid JSON and valid UTF-8 with exactly the
// fields timestamp (the event's, in TimestampLayout) and message (the
// message, each invalid byte replaced by U+FFFD, as a conversion to runes
// does), or, exactly when the message is longer than max_len, drops the
// event with a DropError and leaves the buffer as it was. prev is the time of
// an event the same encoder wrote before, which it caches.
func FuzzDefault(f *testing.F) {
	for _, s := range []string{"", "plain", "\x00\xff\"\\", "\u2028", "é\xc3", `{"a":1}`} {
		f.Add(s, 0, int64(1709296245123456789), int64(1709296245000000000))
	}
	f.Fuzz(func(t *testing.T, msg string, maxLen int, nanos, prev int64) {
		enc := NewDefault(maxLen)
		earlier := event("earlier")
		earlier.Timestamp = time.Unix(0, prev)
		prefix, err := enc.Append(nil, earlier)
		if err != nil && (maxLen <= 0 || maxLen >= len("earlier")) {
			t.Fatalf("dropped a 7-byte message under max_len %d: %v", maxLen, err)
		}
		prefix = append(prefix, '\n')

		ev := event(msg)
		ev.Timestamp = time.Unix(0, nanos)
		b, err := enc.Append(prefix[:len(prefix):len(prefix)], ev)
		tooLong := maxLen > 0 && len(msg) > maxLen
		if err != nil {
			var drop *DropError
			if !tooLong || !errors.As(err, &drop) || drop.Size != len(msg) {
				t.Fatalf("dropped %q under max_len %d: %v", msg, maxLen, err)
			}
			if string(b) != string(prefix) {
				t.Fatalf("a dropped event changed the buffer to %q", b)
			}
			return
		}
		if tooLong {
			t.Fatalf("sent a %d-byte message under max_len %d", len(msg), maxLen)
		}
		line, ok := bytes.CutPrefix(b, prefix)
		if !ok {
			t.Fatalf("the bytes before the event changed: %q", b)
		}
		if bytes.ContainsAny(line, "\n\u2028\u2029") {
			t.Fatalf("%q is not one line, or not one line in JavaScript", line)
		}
		m := decode(t, line)
		if m.Message != string([]rune(msg)) {
			t.Fatalf("round trip of %q gave %q", msg, m.Message)
		}
		if want := ev.Timestamp.UTC().Format(TimestampLayout); m.Timestamp != want {
			t.Fatalf("timestamp %s, want %s", m.Timestamp, want)
		}
	})
}

// benchEvent is like the benchmark's log lines: 200 bytes of plain text.
func benchEvent() *beat.Event {
	msg := `000012345 2024-03-01T12:30:45.123Z INFO [http] served method=GET path=/api/v1/items/42 status=200 bytes=512 user="alice" dur=12ms `
	return event(msg + strings.Repeat("x", 200-len(msg)))
}

func benchmarkEncoder(b *testing.B, enc Encoder) {
	ev := benchEvent()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := enc.Append(buf[:0], ev)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(out)))
	}
}

func BenchmarkEncode_Default(b *testing.B) { benchmarkEncoder(b, NewDefault(0)) }
