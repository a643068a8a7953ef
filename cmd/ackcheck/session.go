package main

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// maxServerMessage bounds what the checker reads from the server in one
// message, as the websocket output does: acks and control frames are small.
const maxServerMessage = 64 << 10

// A session is one connection to the server under test. The checker's
// goroutine owns all data writes and reads the server's messages from
// events; one reader goroutine owns all reads (gorilla/websocket's
// contract: one reader, one writer; WriteControl and Close from anywhere).
type session struct {
	id     int // 1 for the first connection
	ws     *websocket.Conn
	events chan serverEvent
	done   chan struct{} // closed by close: the reader stops sending events
	closed sync.Once
	reader sync.WaitGroup

	// sent counts the data messages written, incremented before each
	// write, so that an ack the reader sees can only cover messages sent
	// before it.
	sent atomic.Uint64

	// Kept by the checker's goroutine, from the events it has taken.
	acks    int    // acks taken
	highest uint64 // the highest ack taken
	ended   error  // why the connection ended, once it has
}

// serverEvent is what the reader saw: a message, a pong, or the end.
type serverEvent struct {
	at      time.Time
	message []byte
	binary  bool
	sent    uint64 // data messages sent when the message was read
	pong    *string
	end     error // the connection ended: a *websocket.CloseError if with a close frame
}

func newSession(id int, ws *websocket.Conn) *session {
	s := &session{id: id, ws: ws, events: make(chan serverEvent, 64), done: make(chan struct{})}
	ws.SetReadLimit(maxServerMessage)
	ws.SetPongHandler(func(data string) error {
		s.emit(serverEvent{at: time.Now(), pong: &data})
		return nil
	})
	s.reader.Add(1)
	go s.read()
	return s
}

func (s *session) read() {
	defer s.reader.Done()
	for {
		typ, msg, err := s.ws.ReadMessage()
		if err != nil {
			s.emit(serverEvent{at: time.Now(), end: err})
			return
		}
		if !s.emit(serverEvent{at: time.Now(), message: msg, binary: typ == websocket.BinaryMessage, sent: s.sent.Load()}) {
			return
		}
	}
}

// emit hands ev to the checker, unless the session is closed.
func (s *session) emit(ev serverEvent) bool {
	select {
	case s.events <- ev:
		return true
	case <-s.done:
		return false
	}
}

// send writes one data message as text, counting it first.
func (s *session) send(msg []byte, timeout time.Duration) error {
	s.sent.Add(1)
	_ = s.ws.SetWriteDeadline(time.Now().Add(timeout))
	return s.ws.WriteMessage(websocket.TextMessage, msg)
}

// next waits, until deadline, for the reader's next event; ok is false at
// the deadline. A session that has ended has no more events.
func (s *session) next(deadline time.Time) (ev serverEvent, ok bool) {
	if s.ended != nil {
		return serverEvent{}, false
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case ev = <-s.events:
		if ev.end != nil {
			s.ended = ev.end
		}
		return ev, true
	case <-timer.C:
		return serverEvent{}, false
	}
}

// close ends the connection and waits for the reader; idempotent.
func (s *session) close() {
	s.closed.Do(func() {
		close(s.done)
		s.ws.Close()
		s.reader.Wait()
	})
}

// ack reads a message from the server as an acknowledgement.
func ack(ev serverEvent) (uint64, error) {
	if ev.binary {
		return 0, fmt.Errorf("a binary message of %d bytes (acks are text messages)", len(ev.message))
	}
	n, err := protocol.ParseAck(ev.message)
	if err != nil {
		return 0, fmt.Errorf("%s, not {\"ack\":N}", quote(ev.message))
	}
	return n, nil
}

// quote shows a message from the server, shortened.
func quote(msg []byte) string {
	const most = 60
	if len(msg) > most {
		return fmt.Sprintf("%q… (%d bytes)", msg[:most], len(msg))
	}
	return fmt.Sprintf("%q", msg)
}

// describeEnd says how a connection ended.
func describeEnd(err error) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure { // 1006: no close frame
		if ce.Text != "" {
			return fmt.Sprintf("the server closed it with %d (%s)", ce.Code, ce.Text)
		}
		return fmt.Sprintf("the server closed it with %d", ce.Code)
	}
	return fmt.Sprintf("it broke without a close frame (%v)", err)
}
