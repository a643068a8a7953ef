package wsclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"regexp"
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
		if got, err := parseAck([]byte(msg)); err != nil || got != want {
			t.Errorf("parseAck(%q) = %d, %v; want %d", msg, got, err, want)
		}
	}
	for _, msg := range []string{"", "ack", `{}`, `{"ack":null}`, `{"ack":-3}`, `{"ack":"3"}`, `{"ack":3e2}`, `{"ack":3}x`, `{"ack":3} {"ack":4}`, `{"ack":01}`, `{"ack":18446744073709551616}`, `{"ack":}`} {
		if got, err := parseAck([]byte(msg)); err == nil {
			t.Errorf("parseAck(%q) = %d, want an error", msg, got)
		}
	}
}

// FuzzParseAck: parseAck never panics and agrees with referenceAck, a plain
// decoding of the protocol's rule: a JSON object, at most maxAckLen bytes,
// whose "ack" (the last, if repeated) is a non-negative integer that fits in
// 64 bits. Its refusals wrap errNotAck.
func FuzzParseAck(f *testing.F) {
	f.Add([]byte(`{"ack":18446744073709551616}`))
	for _, seed := range []string{`{"ack":1}`, `{"ack":0}`, ` {"ack":42} `, `{"ack":-1}`, `{"ack":1e3}`, `[1]`, `{"ack":1}{}`, "\xff"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		n, err := parseAck(msg)
		want, ok := referenceAck(msg)
		switch {
		case err != nil && ok:
			t.Fatalf("parseAck(%q) refused an ack of %d: %v", msg, want, err)
		case err != nil && !errors.Is(err, errNotAck):
			t.Fatalf("parseAck(%q): %v does not wrap errNotAck", msg, err)
		case err == nil && !ok:
			t.Fatalf("parseAck(%q) = %d, but it is not an ack", msg, n)
		case err == nil && n != want:
			t.Fatalf("parseAck(%q) = %d, want %d", msg, n, want)
		}
	})
}

// referenceAck decodes an acknowledgement the slow, obvious way.
func referenceAck(msg []byte) (uint64, bool) {
	if len(msg) > maxAckLen {
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
