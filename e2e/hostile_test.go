package e2e

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// A hostile server: it speaks beats-ack.v1, stores and acknowledges what it
// gets, but also sends garbage, one kind per connection. Filebeat must
// survive every kind without a crash or a memory spike and, as nothing is
// acknowledged that the server does not hold, deliver every line.

const (
	// hostileJunk is how many binary messages the first connection gets
	// at once: the client ignores them with a rate-limited warning.
	hostileJunk = 1000
	// hostileLast is how many lines are written after the garbage.
	hostileLast = 1000
	// hugeMessage is the size of each huge message the server tries to
	// send: a client that buffered one would need at least this much more
	// memory.
	hugeMessage = 256 << 20
	// hostileHWM bounds Filebeat's peak resident memory (VmHWM). Shipping
	// 20,000 lines to this server with its garbage switched off peaked at
	// 107 MiB, with the garbage at 109 to 112 MiB; without the client's read
	// limit it passed 295 MiB within two seconds and went on to 1.6 GiB.
	hostileHWM = 160 << 20
)

// The garbage, by connection: the first connection gets junk that is not an
// ack (ignored, the connection lives on) and then a huge text message in
// small fragments; the second one text frame that claims to be 1 GiB; the
// third an ack beyond what was sent; the fourth a huge binary message. Later
// connections are well-behaved but for one ignored binary message each.
var hostileScript = []string{"junk, then huge fragmented text", "1 GiB frame header", "ack beyond sent", "huge binary"}

func TestHostile_ServerSendingGarbageCannotCrashBloatOrLoseData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	srv := startHostileServer(t)
	started := time.Now()
	fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), inputFor(log), fmt.Sprintf(
		"hosts: [\"ws://%s/echo\"]\nack.enabled: true\nbackoff.init: 500ms\nbackoff.max: 2s\n", srv.addr))

	// The log grows until every scripted connection has ended, so that
	// data flows through each (Filebeat connects only to send). Then a last
	// part must arrive over a connection after all the garbage.
	total, deadline := 0, time.Now().Add(3*time.Minute)
	for len(srv.connectionEnds()) < len(hostileScript) {
		alive(t, fb)
		if time.Now().After(deadline) {
			t.Fatalf("timed out with %d of %d scripted connections ended: %q", len(srv.connectionEnds()), len(hostileScript), srv.connectionEnds())
		}
		writeLog(t, log, total, total+500)
		total += 500
		time.Sleep(250 * time.Millisecond) // the pace of the log, not synchronisation
	}
	writeLog(t, log, total, total+hostileLast)
	total += hostileLast
	waitFor(t, 3*time.Minute, "every line at the hostile server", func() bool {
		alive(t, fb)
		return srv.distinct() >= total
	})
	hwm := alive(t, fb)
	fb.stop(t)

	ends := srv.connectionEnds()
	t.Logf("%d lines; %d connections (%d reconnects); garbage written: %d bytes; Filebeat's VmHWM %d MiB; %d messages stored, %d distinct lines, %d duplicates",
		total, srv.conns.Load(), srv.conns.Load()-1, srv.garbage.Load(), hwm>>20, srv.messages(), srv.distinct(), srv.messages()-srv.distinct())
	for i, e := range ends {
		t.Logf("connection %d: %s", i+1, e)
	}
	// Each scripted connection ends with its own garbage: the junk before
	// the huge message on the first did not end it.
	for i, kind := range hostileScript {
		if ends[i] != "after "+kind {
			t.Errorf("connection %d ended %s, want after %s", i+1, ends[i], kind)
		}
	}
	if n := srv.conns.Load(); n <= int64(len(hostileScript)) {
		t.Errorf("%d connections: none after the garbage", n)
	}
	for i := 0; i < total; i++ {
		if !srv.has(line(i)) {
			t.Fatalf("line %d never arrived", i)
		}
	}
	logged := fb.output()
	// The client warns at most every 10s of the messages it ignores: a
	// flood of junk must not flood the log.
	warnings := strings.Count(logged, "Ignored a message from the server")
	t.Logf("%d warnings about ignored messages for %d junk messages in %v", warnings, hostileJunk+3, time.Since(started).Round(time.Second))
	if most := int(time.Since(started)/(10*time.Second)) + 1; warnings > most {
		t.Errorf("%d warnings about ignored messages in %v, want at most %d", warnings, time.Since(started).Round(time.Second), most)
	}
	for _, reason := range []string{
		"server sent a message over the 64 KiB read limit",
		"Ignored a message from the server",
		`not an acknowledgement ({"ack":N})`,
		"protocol error: server acknowledged 1000",
	} {
		if l := lineWith(logged, reason); l == "" {
			t.Errorf("Filebeat's log does not name %q", reason)
		} else {
			t.Logf("Filebeat logged: %s", l)
		}
	}
	if strings.Contains(logged, "panic") {
		t.Errorf("Filebeat's log shows a panic:\n%s", fb.tail())
	}
}

// lineWith returns the first line of log that contains s, from its level on.
func lineWith(log, s string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			if i := strings.Index(l, "\t"); i >= 0 {
				l = l[i+1:] // without the timestamp
			}
			return l
		}
	}
	return ""
}

// alive fails the test if Filebeat has exited or its peak resident memory
// is past hostileHWM, which it returns.
func alive(t *testing.T, fb *filebeat) int64 {
	t.Helper()
	if !fb.running() {
		t.Fatalf("Filebeat exited: %v; its log:\n%s", fb.err, fb.tail())
	}
	hwm := fb.memory(t).peak
	if hwm > hostileHWM {
		t.Fatalf("Filebeat's peak resident memory is %d MiB, want at most %d MiB", hwm>>20, hostileHWM>>20)
	}
	return hwm
}

// hostileServer is the server of the test above.
type hostileServer struct {
	addr    string
	garbage atomic.Int64 // garbage bytes written to clients
	conns   atomic.Int64 // connections accepted so far

	mu     sync.Mutex
	seen   map[string]int // every message stored, with how often
	stored int
	ends   map[int]string // per connection: what garbage it had sent when it ended
	live   []*websocket.Conn
	closed bool
	wg     sync.WaitGroup // the connections' handlers
}

func startHostileServer(t *testing.T) *hostileServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &hostileServer{addr: ln.Addr().String(), seen: make(map[string]int), ends: make(map[int]string)}
	hs := &http.Server{Handler: http.HandlerFunc(s.serve)}
	go hs.Serve(ln)
	t.Cleanup(func() {
		hs.Close() // upgraded connections are hijacked: not closed by this
		s.mu.Lock()
		s.closed = true
		for _, ws := range s.live {
			ws.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *hostileServer) serve(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{Subprotocols: []string{protocol.Subprotocol}}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.live = append(s.live, ws)
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	n := int(s.conns.Add(1))
	c := &hostileConn{ws: ws, srv: s, triggered: make(chan struct{}), done: make(chan struct{})}
	misbehaved := make(chan struct{})
	go func() {
		defer close(misbehaved)
		c.misbehave(n)
	}()
	end := c.read()
	close(c.done)
	ws.Close() // ends a garbage write in progress
	<-misbehaved
	s.mu.Lock()
	s.ends[n] = end
	s.mu.Unlock()
}

func (s *hostileServer) store(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[msg]++
	s.stored++
}

func (s *hostileServer) has(msg string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[msg] > 0
}

func (s *hostileServer) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

func (s *hostileServer) messages() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stored
}

// connectionEnds says, for each connection that ended, in order, what
// garbage it had sent last.
func (s *hostileServer) connectionEnds() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ends []string
	for i := 1; ; i++ {
		e, ok := s.ends[i]
		if !ok {
			return ends
		}
		ends = append(ends, e)
	}
}

// hostileTrigger is how many messages a connection gets before its garbage
// (or a second, whichever comes first).
const hostileTrigger = 100

// hostileConn is one connection of the hostile server: its handler reads,
// stores and acknowledges; misbehave writes the garbage.
type hostileConn struct {
	ws  *websocket.Conn
	srv *hostileServer

	writeMu  sync.Mutex // one writer at a time: acks and garbage
	received atomic.Uint64
	last     atomic.Value // string: the garbage sent last

	triggered chan struct{} // closed after hostileTrigger messages
	done      chan struct{} // closed when the reader ends
}

// read stores and acknowledges every message until the connection ends,
// and returns what garbage had been sent by then.
func (c *hostileConn) read() string {
	for {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			if last, ok := c.last.Load().(string); ok {
				return "after " + last
			}
			return fmt.Sprintf("before any garbage (%v)", err)
		}
		var m struct{ Message string }
		if err := json.Unmarshal(msg, &m); err != nil {
			c.srv.store(string(msg)) // not an event of ours: never matches a line
		} else {
			c.srv.store(m.Message)
		}
		n := c.received.Add(1)
		if n == hostileTrigger {
			close(c.triggered)
		}
		if err := c.write(websocket.TextMessage, protocol.AppendAck(nil, uint64(n))); err != nil {
			continue // the reader sees why
		}
	}
}

func (c *hostileConn) write(typ int, msg []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(typ, msg)
}

// junk writes a message the client must ignore.
func (c *hostileConn) junk(typ int, msg []byte) {
	if c.write(typ, msg) == nil {
		c.srv.garbage.Add(int64(len(msg)))
	}
}

// wait waits for the trigger, or d, or the end of the connection; false
// means the connection ended.
func (c *hostileConn) wait(trigger <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-trigger:
	case <-t.C:
	case <-c.done:
		return false
	}
	return true
}

// misbehave sends connection n's garbage (hostileScript).
func (c *hostileConn) misbehave(n int) {
	if !c.wait(c.triggered, time.Second) {
		return
	}
	switch n {
	case 1:
		c.last.Store("junk")
		for i := 0; i < hostileJunk; i++ {
			c.junk(websocket.BinaryMessage, make([]byte, 1000))
		}
		c.junk(websocket.TextMessage, []byte("hello, this is not an ack"))
		c.junk(websocket.TextMessage, []byte(`{"ack":"x"}`))
		if !c.wait(nil, time.Second) {
			return // the junk ended the connection: connectionEnds says so
		}
		c.last.Store(hostileScript[0])
		c.huge(websocket.TextMessage, 16<<10)
	case 2:
		c.last.Store(hostileScript[1])
		c.hugeFrameHeader()
	case 3:
		c.last.Store(hostileScript[2])
		c.junk(websocket.TextMessage, protocol.AppendAck(nil, uint64(c.received.Load()+1_000_000_000)))
	case 4:
		c.last.Store(hostileScript[3])
		c.huge(websocket.BinaryMessage, 1<<20)
	default:
		c.last.Store("one binary message")
		c.junk(websocket.BinaryMessage, []byte("binary"))
	}
}

// huge streams a hugeMessage-byte message in fragments of chunk bytes, until
// it is all written or the client gives up on it.
func (c *hostileConn) huge(typ int, chunk int) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	w, err := c.ws.NextWriter(typ)
	if err != nil {
		return
	}
	buf := []byte(strings.Repeat("x", chunk))
	for sent := 0; sent < hugeMessage; sent += chunk {
		if _, err := w.Write(buf); err != nil {
			return
		}
		c.srv.garbage.Add(int64(chunk))
	}
	w.Close()
}

// hugeFrameHeader writes, past gorilla, the header of a single unfragmented
// text frame of 1 GiB, then up to hugeMessage bytes of its payload.
func (c *hostileConn) hugeFrameHeader() {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	raw := c.ws.UnderlyingConn()
	raw.SetWriteDeadline(time.Now().Add(10 * time.Second))
	header := []byte{0x81, 127, 0, 0, 0, 0, 0, 0, 0, 0} // FIN, text; 64-bit length
	binary.BigEndian.PutUint64(header[2:], 1<<30)
	if _, err := raw.Write(header); err != nil {
		return
	}
	buf := []byte(strings.Repeat("x", 1<<20))
	for sent := 0; sent < hugeMessage; sent += len(buf) {
		n, err := raw.Write(buf)
		c.srv.garbage.Add(int64(n))
		if err != nil {
			return
		}
	}
}
