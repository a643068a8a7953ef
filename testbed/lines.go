package testbed

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// LineLen is the length of Line's lines, without the newline.
const LineLen = 200

// Line is the i-th line of the tests' logs: about LineLen bytes, numbered
// in its first seven digits, with characters the encoder must escape and
// multi-byte UTF-8.
func Line(i int) string {
	s := fmt.Sprintf(`%07d 2024-03-01T12:30:45Z INFO user="alice" path=C:\logs\app tab=	ż日🎉 `, i)
	return s + strings.Repeat("x", LineLen-len(s))
}

// BenchLine is the i-th line of the benchmark's logs: LineLen bytes,
// numbered in its first nine digits, shaped like an access log.
func BenchLine(i int) string {
	s := fmt.Sprintf(`%09d 2024-03-01T12:30:45.123Z INFO [http] served method=GET path=/api/v1/items/%d status=200 bytes=%d user="alice" dur=%dms `,
		i, i%9973, i%65536, i%997)
	return s + strings.Repeat("x", LineLen-len(s))
}

// AppendLines appends the lines [from, to) that line makes to the file at
// path (WriteLines).
func AppendLines(path string, from, to int, line func(int) string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if err := WriteLines(f, from, to, line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteLines writes the lines [from, to) that line makes to w, each followed
// by a newline, in whole lines: a reader never sees half of one.
func WriteLines(w io.Writer, from, to int, line func(int) string) error {
	b := bufio.NewWriterSize(w, 1<<20)
	for i := from; i < to; i++ {
		b.WriteString(line(i))
		b.WriteByte('\n')
		if b.Available() < 2*LineLen && i+1 < to {
			// Flush at a line's end, not wherever the buffer fills.
			if err := b.Flush(); err != nil {
				return err
			}
		}
	}
	return b.Flush()
}
