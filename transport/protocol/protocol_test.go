package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"regexp"
	"strings"
	"testing"
)

func TestParseAck(t *testing.T) {
	for msg, want := range map[string]uint64{
		`{"ack":0}`:          0,
		`{"ack":17}`:         17,
		" {\"ack\" : 17 }\n": 17,
		`{"other":"x","ack":18446744073709551615}`: 1<<64 - 1,
		`{"ack":18446744073709551615}`:             1<<64 - 1,
	} {
		if got, err := ParseAck([]byte(msg)); err != nil || got != want {
			t.Errorf("ParseAck(%q) = %d, %v; want %d", msg, got, err, want)
		}
	}
	for _, msg := range []string{"", "ack", `{}`, `{"ack":null}`, `{"ack":-3}`, `{"ack":"3"}`, `{"ack":3e2}`, `{"ack":3}x`, `{"ack":3} {"ack":4}`, `{"ack":01}`, `{"ack":18446744073709551616}`, `{"ack":}`} {
		if got, err := ParseAck([]byte(msg)); err == nil {
			t.Errorf("ParseAck(%q) = %d, want an error", msg, got)
		}
	}
}

// FuzzParseAck: ParseAck never panics and agrees with referenceAck, a plain
// decoding of the protocol's rule: a JSON object, at most MaxAckLen bytes,
// whose "ack" (the last, if repeated) is a non-negative integer that fits in
// 64 bits. Its refusals wrap ErrNotAck.
func FuzzParseAck(f *testing.F) {
	f.Add([]byte(`{"ack":18446744073709551616}`))
	for _, seed := range []string{`{"ack":1}`, `{"ack":0}`, ` {"ack":42} `, `{"ack":-1}`, `{"ack":1e3}`, `[1]`, `{"ack":1}{}`, "\xff"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		n, err := ParseAck(msg)
		want, ok := referenceAck(msg)
		switch {
		case err != nil && ok:
			t.Fatalf("ParseAck(%q) refused an ack of %d: %v", msg, want, err)
		case err != nil && !errors.Is(err, ErrNotAck):
			t.Fatalf("ParseAck(%q): %v does not wrap ErrNotAck", msg, err)
		case err == nil && !ok:
			t.Fatalf("ParseAck(%q) = %d, but it is not an ack", msg, n)
		case err == nil && n != want:
			t.Fatalf("ParseAck(%q) = %d, want %d", msg, n, want)
		}
	})
}

// referenceAck decodes an acknowledgement the slow, obvious way.
func referenceAck(msg []byte) (uint64, bool) {
	if len(msg) > MaxAckLen {
		return 0, false
	}
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	var v interface{}
	if err := dec.Decode(&v); err != nil {
		return 0, false
	}
	if _, err := dec.Token(); err != io.EOF { // nothing but white space after it
		return 0, false
	}
	obj, ok := v.(map[string]interface{})
	if !ok {
		return 0, false
	}
	num, ok := obj["ack"].(json.Number)
	if !ok || !ackDigits.MatchString(num.String()) {
		return 0, false
	}
	n, ok := new(big.Int).SetString(num.String(), 10)
	if !ok || !n.IsUint64() {
		return 0, false
	}
	return n.Uint64(), true
}

// ackDigits is a JSON number that is a non-negative integer.
var ackDigits = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)

func TestAppendAck_IsWhatParseAckReads(t *testing.T) {
	for _, n := range []uint64{0, 1, 7, 1<<64 - 1} {
		msg := AppendAck(nil, n)
		if got, err := ParseAck(msg); err != nil || got != n {
			t.Errorf("ParseAck(%q) = %d, %v; want %d", msg, got, err, n)
		}
	}
	if got := string(AppendAck([]byte("x"), 42)); got != `x{"ack":42}` {
		t.Errorf("AppendAck appended %q", got)
	}
}

func TestEvents_SplitsABatchMessageAtEachEventEnd(t *testing.T) {
	for _, tc := range []struct {
		msg      string
		events   []string
		complete bool
	}{
		{"a\nbb\n\nc\n", []string{"a", "bb", "", "c"}, true},
		{"", nil, true},
		{"a\nrest", []string{"a", "rest"}, false},
	} {
		var got []string
		complete := Events([]byte(tc.msg), func(e []byte) { got = append(got, string(e)) })
		if complete != tc.complete || strings.Join(got, "|") != strings.Join(tc.events, "|") || len(got) != len(tc.events) {
			t.Errorf("Events(%q) = %q, %v; want %q, %v", tc.msg, got, complete, tc.events, tc.complete)
		}
	}
}

func TestIsBatch_ABatchMessageEndsWithEventEnd(t *testing.T) {
	for msg, want := range map[string]bool{"a\n": true, "a\nb\n": true, `{"message":"x"}`: false, "": false, "a\nb": false} {
		if got := IsBatch([]byte(msg)); got != want {
			t.Errorf("IsBatch(%q) = %v, want %v", msg, got, want)
		}
	}
}
