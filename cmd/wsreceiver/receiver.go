package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// maxMessage bounds one message; far above any log line a client should send.
const maxMessage = 64 << 20

// receiver is the WebSocket handler: one goroutine per connection reads
// messages and appends them to the sink.
type receiver struct {
	sink     *sink
	upgrader websocket.Upgrader

	messages, events, bytes, connections, active atomic.Int64

	mu    sync.Mutex
	conns map[*websocket.Conn]chan struct{} // closed when the connection's reader ends
}

func newReceiver(s *sink) *receiver {
	return &receiver{
		sink: s,
		upgrader: websocket.Upgrader{
			// Not a browser endpoint: any origin may connect.
			CheckOrigin: func(*http.Request) bool { return true },
		},
		conns: map[*websocket.Conn]chan struct{}{},
	}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := rc.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered with an HTTP error
	}
	done := make(chan struct{})
	rc.mu.Lock()
	rc.conns[ws] = done
	rc.mu.Unlock()
	rc.connections.Add(1)
	rc.active.Add(1)
	defer func() {
		rc.active.Add(-1)
		rc.mu.Lock()
		delete(rc.conns, ws)
		rc.mu.Unlock()
		ws.Close()
		close(done)
	}()

	ws.SetReadLimit(maxMessage)
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
				log.Printf("connection from %s: %v", r.RemoteAddr, err)
			}
			return
		}
		if err := rc.sink.writeLines(msg); err != nil {
			log.Printf("write output: %v", err)
			return
		}
		rc.messages.Add(1)
		rc.events.Add(int64(eventsIn(msg)))
		rc.bytes.Add(int64(len(msg)))
	}
}

// shutdown sends every client a close frame and waits, at most drain, for
// the readers to see the clients' answers. Connections still open then are
// closed, and their readers waited for, so that none writes to the output
// after it is closed.
func (rc *receiver) shutdown(drain time.Duration) {
	rc.mu.Lock()
	conns := make(map[*websocket.Conn]chan struct{}, len(rc.conns))
	for ws, done := range rc.conns {
		conns[ws] = done
	}
	rc.mu.Unlock()

	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "receiver shutting down")
	for ws := range conns {
		_ = ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	}
	deadline := time.After(drain)
	for ws, done := range conns {
		select {
		case <-done:
		case <-deadline:
			log.Printf("connection from %s did not answer the close frame within %v", ws.RemoteAddr(), drain)
			ws.Close()
			<-done
		}
	}
}

// isBatch says whether a message is a batch (frame: batch) of
// newline-terminated events, which is how it ends; any other message is
// one event (frame: event).
func isBatch(msg []byte) bool {
	return bytes.HasSuffix(msg, []byte{'\n'})
}

// eventsIn counts the events in a message.
func eventsIn(msg []byte) int {
	if isBatch(msg) {
		return bytes.Count(msg, []byte{'\n'})
	}
	return 1
}

// Stats are the receiver's counts, as GET /stats returns them.
type Stats struct {
	Messages    int64 `json:"messages"`
	Events      int64 `json:"events"` // as eventsIn counts them
	Bytes       int64 `json:"bytes"`
	Connections int64 `json:"connections"` // accepted since start
	Active      int64 `json:"active"`      // open now
}

func (s Stats) String() string {
	return fmt.Sprintf("%d messages, %d events, %d bytes, %d connections (%d open)",
		s.Messages, s.Events, s.Bytes, s.Connections, s.Active)
}

func (rc *receiver) stats() Stats {
	return Stats{
		Messages:    rc.messages.Load(),
		Events:      rc.events.Load(),
		Bytes:       rc.bytes.Load(),
		Connections: rc.connections.Load(),
		Active:      rc.active.Load(),
	}
}

func (rc *receiver) serveStats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(rc.stats())
}

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
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
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
	if isBatch(msg) {
		return nil // its lines are terminated already
	}
	return s.w.WriteByte('\n')
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
