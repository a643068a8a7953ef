package main

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// ackSubprotocol is the subprotocol of acknowledged delivery (PROTOCOL.md).
const ackSubprotocol = "beats-ack.v1"

// receiver is the WebSocket handler: one goroutine per connection reads
// messages and appends them to the sink; with acks, a second one
// acknowledges them.
type receiver struct {
	sink        *sink
	upgrader    websocket.Upgrader
	ack         bool          // select beats-ack.v1 and acknowledge what is written
	ackInterval time.Duration // least time between two acks on a connection
	crashAfter  int64         // exit at once after this many messages; 0: never

	messages, events, bytes, connections, active, acks atomic.Int64

	mu    sync.Mutex
	conns map[*session]struct{}
}

func newReceiver(s *sink, ack bool, ackInterval time.Duration, crashAfter int64) *receiver {
	rc := &receiver{
		sink:        s,
		ack:         ack,
		ackInterval: ackInterval,
		crashAfter:  crashAfter,
		upgrader: websocket.Upgrader{
			// Not a browser endpoint: any origin may connect.
			CheckOrigin: func(*http.Request) bool { return true },
		},
		conns: map[*session]struct{}{},
	}
	if ack {
		rc.upgrader.Subprotocols = []string{ackSubprotocol}
	}
	return rc
}

// session is one connection.
type session struct {
	ws   *websocket.Conn
	done chan struct{} // closed when the reader has ended

	// mu orders taking a message against the final ack: after it, a
	// message is not taken (and so not acknowledged, so the client sends
	// it again).
	mu       sync.Mutex
	received uint64 // messages taken: written to the sink
	closing  bool

	writeMu sync.Mutex // one writer: the acker, or shutdown's final ack
	acked   uint64     // the last count sent
	more    chan struct{}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := rc.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered with an HTTP error
	}
	ss := &session{ws: ws, done: make(chan struct{}), more: make(chan struct{}, 1)}
	rc.mu.Lock()
	rc.conns[ss] = struct{}{}
	rc.mu.Unlock()
	rc.connections.Add(1)
	rc.active.Add(1)
	var acker sync.WaitGroup
	stopAcker := make(chan struct{})
	if rc.ack && ws.Subprotocol() == ackSubprotocol {
		acker.Add(1)
		go func() {
			defer acker.Done()
			rc.acknowledge(ss, stopAcker)
		}()
	}
	defer func() {
		close(stopAcker)
		acker.Wait()
		rc.active.Add(-1)
		rc.mu.Lock()
		delete(rc.conns, ss)
		rc.mu.Unlock()
		ws.Close()
		close(ss.done)
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
		if err := rc.take(ss, msg); err != nil {
			log.Printf("write output: %v", err)
			return
		}
	}
}

// take writes a message to the sink and counts it, unless the session is
// closing.
func (rc *receiver) take(ss *session, msg []byte) error {
	ss.mu.Lock()
	if ss.closing {
		ss.mu.Unlock()
		return nil
	}
	if err := rc.sink.writeLines(msg); err != nil {
		ss.mu.Unlock()
		return err
	}
	ss.received++
	ss.mu.Unlock()

	rc.events.Add(int64(eventsIn(msg)))
	rc.bytes.Add(int64(len(msg)))
	if n := rc.messages.Add(1); n == rc.crashAfter {
		log.Printf("crashing after %d messages (-crash-after): nothing flushed, nothing acknowledged", n)
		os.Exit(3)
	}
	select {
	case ss.more <- struct{}{}:
	default:
	}
	return nil
}

// acknowledge sends acks until stop: whenever messages were taken since the
// last ack, it flushes the sink, so that what it acknowledges is in the
// output file, and acknowledges them all. Acks coalesce: whatever arrives
// while one is sent, or within ackInterval after it, goes into the next.
// Pacing them keeps a fast stream of small messages from costing an ack
// (a flush, a write, and a read on the client) every few messages.
func (rc *receiver) acknowledge(ss *session, stop <-chan struct{}) {
	pace := time.NewTimer(0)
	defer pace.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ss.more:
		}
		if err := rc.sendAck(ss); err != nil {
			return // the reader sees the broken connection too
		}
		pace.Reset(rc.ackInterval)
		select {
		case <-stop:
			return
		case <-pace.C:
		}
	}
}

// sendAck acknowledges every message taken so far, if any is new.
func (rc *receiver) sendAck(ss *session) error {
	ss.writeMu.Lock()
	defer ss.writeMu.Unlock()
	ss.mu.Lock()
	n := ss.received
	ss.mu.Unlock()
	if n == ss.acked {
		return nil
	}
	if err := rc.sink.flush(); err != nil {
		return err
	}
	_ = ss.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := ss.ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"ack":%d}`, n))); err != nil {
		return err
	}
	ss.acked = n
	rc.acks.Add(1)
	return nil
}

// shutdown sends every client a close frame and waits, at most drain, for
// the readers to see the clients' answers. With acks, each client first
// gets a final ack for everything taken; what arrives after it is not
// taken. Connections still open then are closed, and their readers waited
// for, so that none writes to the output after it is closed.
func (rc *receiver) shutdown(drain time.Duration) {
	rc.mu.Lock()
	conns := make([]*session, 0, len(rc.conns))
	for ss := range rc.conns {
		conns = append(conns, ss)
	}
	rc.mu.Unlock()

	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "receiver shutting down")
	for _, ss := range conns {
		if rc.ack {
			ss.mu.Lock()
			ss.closing = true
			ss.mu.Unlock()
			if err := rc.sendAck(ss); err != nil {
				log.Printf("final ack to %s: %v", ss.ws.RemoteAddr(), err)
			}
		}
		_ = ss.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	}
	deadline := time.After(drain)
	for _, ss := range conns {
		select {
		case <-ss.done:
		case <-deadline:
			log.Printf("connection from %s did not answer the close frame within %v", ss.ws.RemoteAddr(), drain)
			ss.ws.Close()
			<-ss.done
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
	Acks        int64 `json:"acks"`        // ack messages sent (-ack)
}

func (s Stats) String() string {
	return fmt.Sprintf("%d messages, %d events, %d bytes, %d connections (%d open), %d acks",
		s.Messages, s.Events, s.Bytes, s.Connections, s.Active, s.Acks)
}

func (rc *receiver) stats() Stats {
	return Stats{
		Messages:    rc.messages.Load(),
		Events:      rc.events.Load(),
		Bytes:       rc.bytes.Load(),
		Connections: rc.connections.Load(),
		Active:      rc.active.Load(),
		Acks:        rc.acks.Load(),
	}
}

func (rc *receiver) serveStats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(rc.stats())
}
