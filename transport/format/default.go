package format

import (
	"time"
	"unicode/utf8"
)

// TimestampLayout is RFC 3339 in UTC with a fixed nine-digit fraction, so
// timestamps sort as text and never lose precision.
const TimestampLayout = "2006-01-02T15:04:05.000000000Z"

// Default encodes the original {"timestamp","message"} format. The format is
// fixed, so it is written by hand rather than by reflection, without
// allocating: profiling showed time formatting and a general-purpose JSON
// writer taking most of the encoding time. The result is always valid JSON
// and valid UTF-8.
type Default struct {
	// The timestamp up to its fraction, for the second last formatted:
	// a log's events mostly share their second.
	sec    int64
	prefix []byte
}

// Append appends the event at ts with message msg to dst.
func (e *Default) Append(dst []byte, ts time.Time, msg string) []byte {
	dst = append(dst, `{"timestamp":"`...)
	dst = e.appendTimestamp(dst, ts)
	dst = append(dst, `","message":`...)
	dst = appendJSONString(dst, msg)
	return append(dst, '}')
}

// appendTimestamp appends t in TimestampLayout.
func (e *Default) appendTimestamp(dst []byte, t time.Time) []byte {
	t = t.UTC()
	if sec := t.Unix(); sec != e.sec || e.prefix == nil {
		e.prefix = t.AppendFormat(e.prefix[:0], "2006-01-02T15:04:05.")
		e.sec = sec
	}
	dst = append(dst, e.prefix...)
	var frac [9]byte
	ns := t.Nanosecond()
	for i := len(frac) - 1; i >= 0; i-- {
		frac[i] = byte('0' + ns%10)
		ns /= 10
	}
	return append(append(dst, frac[:]...), 'Z')
}

const hex = "0123456789abcdef"

// plain marks the bytes a JSON string holds as they are: printable ASCII
// other than the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// The bytes of eight, as one word: each byte of ones is 0x01, of highs 0x80.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plain8 says whether each of the eight bytes of w is plain: none is below
// 0x20, 0x80 or above, a quote or a backslash. As one word x,
// (x - ones*n) &^ x & highs is not zero exactly when a byte of x is below n
// (n at most 0x80); a byte equal to b is one of x ^ ones*b below 1.
func plain8(w string) bool {
	x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
	q, b := x^(ones*'"'), x^(ones*'\\')
	return (x&highs|(x-ones*0x20)&^x|(q-ones)&^q|(b-ones)&^b)&highs == 0
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, each invalid UTF-8 byte replaced by U+FFFD,
// and U+2028/U+2029 escaped so that the result is a JavaScript string too.
// That is what encoding/json and go-structform (libbeat's JSON writer) do,
// minus HTML escaping.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending: copied in one go
	for i := 0; i < len(s); {
		// Eight plain bytes at a time: most of a log line is.
		if i+8 <= len(s) && plain8(s[i:i+8]) {
			i += 8
			continue
		}
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
