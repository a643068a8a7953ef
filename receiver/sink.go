package receiver

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"time"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// sink appends lines to the output, buffered and flushed every
// flushInterval so that a reader of the file sees them promptly.
type sink struct {
	mu   sync.Mutex
	w    *bufio.Writer
	c    io.Closer // nil for stdout
	stop chan struct{}
	once sync.Once
	err  error
}

const flushInterval = 100 * time.Millisecond

func openSink(path string) (*sink, error) {
	s := &sink{stop: make(chan struct{})}
	var out io.Writer = os.Stdout
	if path != "-" {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		if err := dropIncompleteLine(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out, s.c = f, f
	}
	s.w = bufio.NewWriterSize(out, 256<<10)
	go s.flushLoop()
	return s, nil
}

// writeLines writes a message as one line, or a batch as its lines.
func (s *sink) writeLines(msg []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(msg); err != nil {
		return err
	}
	if protocol.IsBatch(msg) {
		return nil // its lines are terminated already
	}
	return s.w.WriteByte('\n')
}

// flush writes out what is buffered.
func (s *sink) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Flush()
}

func (s *sink) flushLoop() {
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			if err := s.w.Flush(); err != nil {
				log.Printf("flush output: %v", err)
			}
			s.mu.Unlock()
		}
	}
}

// close flushes and closes the output; idempotent.
func (s *sink) close() error {
	s.once.Do(func() {
		close(s.stop)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.err = s.w.Flush()
		if s.c != nil {
			if err := s.c.Close(); s.err == nil {
				s.err = err
			}
		}
	})
	return s.err
}

// dropIncompleteLine truncates f after its last newline. A receiver that
// crashed (SIGKILL, -crash-after) mid-write can leave part of a line at the
// end; that line was never acknowledged, so the client sends it again, and
// appending to the fragment would corrupt the next line.
func dropIncompleteLine(f *os.File) error {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	end := size
	buf := make([]byte, 64<<10)
	for end > 0 {
		n := int64(len(buf))
		if end < n {
			n = end
		}
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if end == size {
		return nil
	}
	log.Printf("discarded %d bytes of an incomplete last line, left by a crash", size-end)
	return f.Truncate(end)
}
