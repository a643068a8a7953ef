package format

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// plain8 agrees with the byte table plain for every byte value at every
// position, among plain bytes and among others.
func TestPlain8_AgreesWithThePlainTable(t *testing.T) {
	for _, fill := range []byte{'a', ' ', '~', 0x7f, '"', 0x00, 0xff} {
		for pos := range 8 {
			for c := range 256 {
				w := []byte{fill, fill, fill, fill, fill, fill, fill, fill}
				w[pos] = byte(c)
				want := plain[fill] && plain[c]
				if got := plain8(string(w)); got != want {
					t.Fatalf("plain8(%q) = %v, want %v", w, got, want)
				}
			}
		}
	}
}

// appendJSONString gives valid JSON of the string, special bytes escaped,
// wherever they fall in a word of the eight-byte path.
func TestAppendJSONString_EscapesAtEveryOffset(t *testing.T) {
	for _, special := range []string{`"`, `\`, "\n", "\x01", "\x7f", "é", "\u2028", "\xff", "\xe2\x80"} {
		for n := range 20 {
			s := "abcdefghijklmnopqrstuvwxyz"[:n] + special + "ABCDEFGHIJKLMNOP"
			got := appendJSONString(nil, s)
			var decoded string
			if err := json.Unmarshal(got, &decoded); err != nil || decoded != string([]rune(s)) {
				t.Fatalf("appendJSONString(%q) = %s, which decodes to %q (%v)", s, got, decoded, err)
			}
			if strings.ContainsAny(string(got), "\n\u2028") || !utf8.Valid(got) {
				t.Fatalf("appendJSONString(%q) = %q: a raw line break or invalid UTF-8", s, got)
			}
		}
	}
}
