package receiver

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// maxMessage bounds one message; far above any log line a client should send.
const maxMessage = 64 << 20

// options are what a receiver requires of its clients and how it answers.
type options struct {
	ack         bool          // select beats-ack.v1 and acknowledge what is written
	ackInterval time.Duration // least time between two acks on a connection; 0: an ack per message
	crashAfter  int64         // exit at once after this many messages; 0: never
	closeEvery  uint64        // close each connection after this many messages; 0: never
	closeCode   int           // the close frame's status code for closeEvery
	token       string        // require Authorization: Bearer <token>; "": no
	basicAuth   string        // require basic authentication as user:password; "": no
	compression bool          // accept permessage-deflate
	noValidate  bool          // skip counting invalid UTF-8 and JSON (-validate=false)
}

// receiver is the WebSocket handler: one goroutine per connection reads
// messages and appends them to the sink; with acks, a second one
// acknowledges them.
type receiver struct {
	options
	sink     *sink
	upgrader websocket.Upgrader

	messages, events, bytes, connections, active, acks atomic.Int64
	refused, compressed, wireBytes, closes             atomic.Int64
	invalidUTF8, invalidJSON                           atomic.Int64

	mu    sync.Mutex
	conns map[*session]struct{}
}

func newReceiver(s *sink, opts options) *receiver {
	rc := &receiver{
		options: opts,
		sink:    s,
		upgrader: websocket.Upgrader{
			// Not a browser endpoint: any origin may connect.
			CheckOrigin:       func(*http.Request) bool { return true },
			EnableCompression: opts.compression,
		},
		conns: map[*session]struct{}{},
	}
	if opts.ack {
		rc.upgrader.Subprotocols = []string{protocol.Subprotocol}
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
	if why := rc.unauthorized(r); why != "" {
		rc.refused.Add(1)
		log.Printf("refused a handshake from %s: %s", r.RemoteAddr, why)
		w.Header().Set("WWW-Authenticate", rc.challenge())
		http.Error(w, "unauthorized: "+why, http.StatusUnauthorized)
		return
	}
	ws, err := rc.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered with an HTTP error
	}
	if rc.compression && offersDeflate(r) {
		rc.compressed.Add(1) // the upgrader accepted it
	}
	ss := &session{ws: ws, done: make(chan struct{}), more: make(chan struct{}, 1)}
	rc.mu.Lock()
	rc.conns[ss] = struct{}{}
	rc.mu.Unlock()
	rc.connections.Add(1)
	rc.active.Add(1)
	var acker sync.WaitGroup
	stopAcker := make(chan struct{})
	acks := rc.ack && ws.Subprotocol() == protocol.Subprotocol
	eachMessage := acks && rc.ackInterval == 0 // the reader acknowledges as it takes
	if acks && !eachMessage {
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
		typ, msg, err := ws.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
				log.Printf("connection from %s: %v", r.RemoteAddr, err)
			}
			return
		}
		if err := rc.take(ss, typ, msg); err != nil {
			log.Printf("write output: %v", err)
			return
		}
		if eachMessage && !ss.isClosing() {
			if err := rc.sendAck(ss); err != nil {
				log.Printf("connection from %s: ack: %v", r.RemoteAddr, err)
				return
			}
		}
	}
}

// isClosing says whether the session takes no more messages.
func (ss *session) isClosing() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.closing
}

// take writes a message to the sink and counts it, unless the session is
// closing.
func (rc *receiver) take(ss *session, typ int, msg []byte) error {
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
	closing := rc.closeEvery > 0 && ss.received == rc.closeEvery
	if closing {
		ss.closing = true // what follows is not taken
	}
	ss.mu.Unlock()
	if closing {
		rc.closeSession(ss)
	}

	rc.events.Add(int64(eventsIn(msg)))
	rc.bytes.Add(int64(len(msg)))
	if !rc.noValidate {
		rc.check(typ, msg)
	}
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

// closeSession ends a connection as -close-every asks, as a server that
// gives up on a client would: the close frame goes out with what has not
// yet been acknowledged still unacknowledged, and what arrives after it is
// not taken. The reader ends when the client answers; without an answer
// the connection is closed after a second.
func (rc *receiver) closeSession(ss *session) {
	rc.closes.Add(1)
	log.Printf("closing the connection from %s with status %d after %d messages (-close-every)", ss.ws.RemoteAddr(), rc.closeCode, ss.received)
	msg := websocket.FormatCloseMessage(rc.closeCode, "wsreceiver -close-every")
	_ = ss.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	time.AfterFunc(time.Second, func() { ss.ws.Close() })
}

// maxInvalidLogged bounds the log lines about invalid messages; the stats
// count them all.
const maxInvalidLogged = 10

// check counts a text message that is not valid UTF-8 (gorilla does not
// check: RFC 6455 requires it of text messages) and each of its lines that
// is not valid JSON, which every encoding of the websocket output but
// codec.format produces. It logs the first few, never their content.
func (rc *receiver) check(typ int, msg []byte) {
	if typ == websocket.TextMessage && !utf8.Valid(msg) {
		if n := rc.invalidUTF8.Add(1); n <= maxInvalidLogged {
			log.Printf("a text message of %d bytes is not valid UTF-8 (%d so far)", len(msg), n)
		}
	}
	if !protocol.IsBatch(msg) {
		rc.checkJSON(msg)
		return
	}
	protocol.Events(msg, rc.checkJSON)
}

// checkJSON counts line if it is not valid JSON.
func (rc *receiver) checkJSON(line []byte) {
	if json.Valid(line) {
		return
	}
	if n := rc.invalidJSON.Add(1); n <= maxInvalidLogged {
		log.Printf("a line of %d bytes is not valid JSON (%d so far)", len(line), n)
	}
}

// acknowledge sends acks until stop: whenever messages were taken since the
// last ack, it flushes the sink, so that what it acknowledges is in the
// output file, and acknowledges them all. Acks coalesce: whatever arrives
// while one is sent, or within ackInterval after it, goes into the next.
// Pacing them keeps a fast stream of small messages from costing an ack
// (a flush, a write, and a read on the client) every few messages. With
// ackInterval 0 there is no acker: the reader acknowledges each message
// as soon as it has taken it, one ack per message, as the simplest server
// does.
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
	if err := ss.ws.WriteMessage(websocket.TextMessage, protocol.AppendAck(nil, n)); err != nil {
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

// unauthorized says why r lacks the credentials the receiver requires,
// or "" if it has them. It never says what r presented.
func (rc *receiver) unauthorized(r *http.Request) string {
	if rc.token != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case !ok:
			return "no bearer token"
		case subtle.ConstantTimeCompare([]byte(got), []byte(rc.token)) != 1:
			return "wrong bearer token"
		}
	}
	if rc.basicAuth != "" {
		user, pass, ok := r.BasicAuth()
		switch {
		case !ok:
			return "no basic authentication"
		case subtle.ConstantTimeCompare([]byte(user+":"+pass), []byte(rc.basicAuth)) != 1:
			return "wrong user or password"
		}
	}
	return ""
}

func (rc *receiver) challenge() string {
	if rc.token != "" {
		return `Bearer realm="wsreceiver"`
	}
	return `Basic realm="wsreceiver"`
}

// offersDeflate says whether the client offered permessage-deflate, which
// gorilla's upgrader then accepts when compression is enabled.
func offersDeflate(r *http.Request) bool {
	for _, ext := range r.Header.Values("Sec-Websocket-Extensions") {
		if strings.Contains(ext, "permessage-deflate") {
			return true
		}
	}
	return false
}

// eventsIn counts the events in a message.
func eventsIn(msg []byte) int {
	if protocol.IsBatch(msg) {
		return bytes.Count(msg, []byte{protocol.EventEnd})
	}
	return 1
}

// Stats are the receiver's counts, as GET /stats returns them.
type Stats struct {
	Messages    int64 `json:"messages"`
	Events      int64 `json:"events"` // as eventsIn counts them
	Bytes       int64 `json:"bytes"`
	Connections int64 `json:"connections"`  // accepted since start
	Active      int64 `json:"active"`       // open now
	Acks        int64 `json:"acks"`         // ack messages sent (-ack)
	Refused     int64 `json:"refused"`      // handshakes refused for lack of credentials
	Compressed  int64 `json:"compressed"`   // connections with permessage-deflate
	WireBytes   int64 `json:"wire_bytes"`   // read from the network: TLS, HTTP and framing included
	InvalidUTF8 int64 `json:"invalid_utf8"` // text messages that are not valid UTF-8
	InvalidJSON int64 `json:"invalid_json"` // lines (events) that are not valid JSON
	Closes      int64 `json:"closes"`       // connections closed by -close-every
}

func (s Stats) String() string {
	return fmt.Sprintf("%d messages, %d events, %d bytes (%d on the wire), %d connections (%d open, %d compressed), %d refused, %d acks, %d invalid UTF-8, %d invalid JSON",
		s.Messages, s.Events, s.Bytes, s.WireBytes, s.Connections, s.Active, s.Compressed, s.Refused, s.Acks, s.InvalidUTF8, s.InvalidJSON)
}

func (rc *receiver) stats() Stats {
	return Stats{
		Messages:    rc.messages.Load(),
		Events:      rc.events.Load(),
		Bytes:       rc.bytes.Load(),
		Connections: rc.connections.Load(),
		Active:      rc.active.Load(),
		Acks:        rc.acks.Load(),
		Refused:     rc.refused.Load(),
		Compressed:  rc.compressed.Load(),
		WireBytes:   rc.wireBytes.Load(),
		Closes:      rc.closes.Load(),
		InvalidUTF8: rc.invalidUTF8.Load(),
		InvalidJSON: rc.invalidJSON.Load(),
	}
}

func (rc *receiver) serveStats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(rc.stats())
}
