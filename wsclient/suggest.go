package wsclient

import (
	"sort"
	"strings"
)

// suggestKeys names the settings a key that is not one probably meant, for
// "did you mean ...": known are this output's keys (Beats' names of
// settings too) and the prefixes of nested ones (ssl, backoff, ack, and
// headers, whose names are the user's). In order, it tries:
//
//   - the keys closest to the whole key, within a few edits
//     (compresion: compression; backoff.int: backoff.init; ack_timeout:
//     ack.timeout);
//   - the key with its first unknown part replaced by the closest known one
//     at that place (header.Authorization: headers.Authorization);
//   - the keys that end the way it does, the key written at the wrong level
//     (verification_mode: ssl.verification_mode).
//
// It returns nil when nothing is close.
func suggestKeys(key string, known map[string]bool) []string {
	if best := closest(key, keysOf(known)); len(best) > 0 {
		return best
	}
	parts := strings.Split(key, ".")
	for i := range parts {
		if known[strings.Join(parts[:i+1], ".")] {
			continue
		}
		parent := strings.Join(parts[:i], ".")
		var siblings []string
		for k := range known {
			if p, name, ok := cutLast(k); ok && p == parent || !ok && parent == "" {
				siblings = append(siblings, name)
			}
		}
		var out []string
		for _, s := range closest(parts[i], siblings) {
			parts := append(append(append([]string{}, parts[:i]...), s), parts[i+1:]...)
			out = append(out, strings.Join(parts, "."))
		}
		if len(out) > 0 {
			return out
		}
		break
	}
	var out []string
	last := parts[len(parts)-1]
	for k := range known {
		if _, name, ok := cutLast(k); ok && strings.EqualFold(name, last) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// cutLast splits a dotted key at its last dot: backoff.init is backoff and
// init; a key without one is "", key, false.
func cutLast(key string) (parent, name string, ok bool) {
	i := strings.LastIndexByte(key, '.')
	if i < 0 {
		return "", key, false
	}
	return key[:i], key[i+1:], true
}

func keysOf(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// closest returns the candidates at the smallest edit distance from s,
// sorted, if it is small for s's length: 1 up to 4 characters, 2 up to 10,
// 3 beyond. Case does not count.
func closest(s string, candidates []string) []string {
	limit := 3
	switch {
	case len(s) <= 4:
		limit = 1
	case len(s) <= 10:
		limit = 2
	}
	var best []string
	for _, c := range candidates {
		switch d := editDistance(strings.ToLower(s), strings.ToLower(c)); {
		case d > limit:
		case d < limit:
			limit, best = d, []string{c}
		default:
			best = append(best, c)
		}
	}
	sort.Strings(best)
	return best
}

// editDistance is the optimal string alignment distance of a and b: the
// fewest insertions, deletions, substitutions and swaps of two adjacent
// characters that turn a into b.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
