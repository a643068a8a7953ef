package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"testing"
)

// tailer follows the receiver's output file as it grows, checking every
// line and counting each log line's arrivals.
type tailer struct {
	t      *testing.T
	f      *os.File
	r      *bufio.Reader
	part   []byte
	lines  int
	counts map[int]int
}

func newTailer(t *testing.T, path string) *tailer {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &tailer{t: t, f: f, r: bufio.NewReaderSize(f, 1<<20), counts: map[int]int{}}
}

// read takes in the complete lines written since the last call and
// returns how many lines there are in all.
func (tl *tailer) read() int {
	tl.t.Helper()
	for {
		chunk, err := tl.r.ReadBytes('\n')
		tl.part = append(tl.part, chunk...)
		if err == io.EOF {
			return tl.lines // an incomplete line waits for the rest
		}
		if err != nil {
			tl.t.Fatal(err)
		}
		tl.take(tl.part[:len(tl.part)-1])
		tl.part = tl.part[:0]
	}
}

func (tl *tailer) take(raw []byte) {
	tl.t.Helper()
	var m struct{ Message string }
	if err := json.Unmarshal(raw, &m); err != nil || len(m.Message) < 7 {
		tl.t.Fatalf("line %d of the receiver's output is not {timestamp,message}: %q (%v)", tl.lines+1, raw, err)
	}
	i, err := strconv.Atoi(m.Message[:7])
	if err != nil || i < 0 || i >= killLines || m.Message != line(i) {
		tl.t.Fatalf("line %d of the receiver's output is no line of the log: %q", tl.lines+1, m.Message)
	}
	tl.counts[i]++
	tl.lines++
}

func (tl *tailer) distinct() int { return len(tl.counts) }

// absent is how many of the log's lines [from, to) have not arrived.
func (tl *tailer) absent(from, to int) int {
	n := 0
	for i := from; i < to; i++ {
		if tl.counts[i] == 0 {
			n++
		}
	}
	return n
}
