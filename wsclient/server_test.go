package wsclient

import (
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// wait bounds every wait in these tests; reaching it is a failure, never
// part of the expected behaviour.
const wait = 10 * time.Second

// testServer is a real WebSocket server on 127.0.0.1 with knobs for the
// failures a client must survive.
type testServer struct {
	*httptest.Server
	t *testing.T

	// Set before the first connection.
	refuse     int  // answer the handshake with this HTTP status
	ignorePing bool // never answer pings (a peer that went silent)
	noRead     bool // accept, then never read (a stalled peer)
	ack        bool // select the beats-ack.v1 subprotocol
	ackEvery   int  // with ack: acknowledge every n-th message; 0: only when the test says
	tls        bool // serve wss, with httptest's certificate (certPEM)
	compress   bool // accept permessage-deflate

	// Reset the connection after this many messages; may change at any time.
	resetAfter atomic.Int64
	// Close this many of the next connections as soon as they are
	// upgraded, as a server that checks a token after the upgrade, or is
	// overloaded, would; may change at any time.
	dropNext atomic.Int64

	msgs       chan string          // every message received, in order
	handshakes chan *http.Request   // every handshake request, refused ones too
	conns      chan *websocket.Conn // every accepted connection
	ends       chan error           // why each connection's read loop ended
	pings      atomic.Int64
	wire       atomic.Int64 // bytes read from the network, framing and handshakes included
	binary     atomic.Int64 // binary messages received (the rest were text)

	done     chan struct{} // closed by stop
	stopOnce sync.Once
	writeMu  sync.Mutex // serialises send
	mu       sync.Mutex
	live     []*websocket.Conn // closed by stop: httptest does not track upgraded connections
	wg       sync.WaitGroup
}

func newTestServer(t *testing.T, configure func(*testServer)) *testServer {
	t.Helper()
	return newTestServerAt(t, "127.0.0.1:0", configure)
}

// newTestServerAt is newTestServer on a given address, for a server that
// comes up where a client has been failing to connect.
func newTestServerAt(t *testing.T, addr string, configure func(*testServer)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{
		t:          t,
		msgs:       make(chan string, 100000),
		handshakes: make(chan *http.Request, 100),
		conns:      make(chan *websocket.Conn, 100),
		ends:       make(chan error, 100),
		done:       make(chan struct{}),
	}
	if configure != nil {
		configure(s)
	}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Server.Listener.Close()
	s.Server.Listener = &countingListener{Listener: ln, n: &s.wire}
	if s.tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.stop)
	return s
}

func (s *testServer) serve(w http.ResponseWriter, r *http.Request) {
	s.wg.Add(1)
	defer s.wg.Done()
	s.handshakes <- r
	if s.refuse != 0 {
		http.Error(w, "refused by test", s.refuse)
		return
	}
	upgrader := websocket.Upgrader{EnableCompression: s.compress}
	if s.ack {
		upgrader.Subprotocols = []string{protocol.Subprotocol}
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	if !s.track(ws) {
		return
	}

	pong := ws.PingHandler()
	ws.SetPingHandler(func(data string) error {
		s.pings.Add(1)
		if s.ignorePing {
			return nil
		}
		return pong(data)
	})
	if s.dropNext.Add(-1) >= 0 {
		s.ends <- errDropped
		return
	}
	s.dropNext.Add(1)
	s.conns <- ws
	if s.noRead {
		<-s.done
		return
	}
	for n := int64(1); ; n++ {
		typ, msg, err := ws.ReadMessage()
		if err != nil {
			s.ends <- err
			return
		}
		if typ == websocket.BinaryMessage {
			s.binary.Add(1)
		}
		s.msgs <- string(msg)
		if s.ack && s.ackEvery > 0 && n%int64(s.ackEvery) == 0 {
			s.send(ws, websocket.TextMessage, fmt.Sprintf(`{"ack":%d}`, n))
		}
		if n == s.resetAfter.Load() {
			ws.NetConn().(*countingConn).Conn.(*net.TCPConn).SetLinger(0) // close with an RST
			return
		}
	}
}

// errDropped is the end of a connection the server dropped at once.
var errDropped = errors.New("dropped by the test server as soon as it was upgraded")

// send writes a message to a client; tests call it while the handler may
// be acknowledging on the same connection, and gorilla allows one writer.
func (s *testServer) send(ws *websocket.Conn, typ int, msg string) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := ws.WriteMessage(typ, []byte(msg)); err != nil {
		s.t.Logf("server send %q: %v", msg, err)
	}
}

// track registers ws for stop to close; false if the server is stopping.
func (s *testServer) track(ws *websocket.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return false
	default:
		s.live = append(s.live, ws)
		return true
	}
}

// stop closes the listener and every connection, then waits for handlers.
// Idempotent.
func (s *testServer) stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		close(s.done)
		for _, ws := range s.live {
			ws.Close()
		}
		s.mu.Unlock()
		s.Close()
		s.wg.Wait()
	})
}

// addr is host:port, as config.Addr takes it.
func (s *testServer) addr() string {
	return s.Listener.Addr().String()
}

// certPEM writes the server's certificate (httptest's, its own CA) to a
// PEM file, for ssl.certificate_authorities.
func (s *testServer) certPEM() string {
	s.t.Helper()
	path := filepath.Join(s.t.TempDir(), "ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	if err := os.WriteFile(path, block, 0o600); err != nil {
		s.t.Fatal(err)
	}
	return path
}

// handshake returns the next handshake request.
func (s *testServer) handshake() *http.Request {
	s.t.Helper()
	select {
	case r := <-s.handshakes:
		return r
	case <-time.After(wait):
		s.t.Fatal("no handshake")
		return nil
	}
}

// conn returns the server side of the next accepted connection.
func (s *testServer) conn() *websocket.Conn {
	s.t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(wait):
		s.t.Fatal("no connection accepted")
		return nil
	}
}

// receive returns the next n messages.
func (s *testServer) receive(n int) []string {
	s.t.Helper()
	got := make([]string, 0, n)
	timeout := time.After(wait)
	for len(got) < n {
		select {
		case m := <-s.msgs:
			got = append(got, m)
		case <-timeout:
			s.t.Fatalf("received %d of %d messages", len(got), n)
		}
	}
	return got
}

// end returns why the next connection's read loop ended.
func (s *testServer) end() error {
	s.t.Helper()
	select {
	case err := <-s.ends:
		return err
	case <-time.After(wait):
		s.t.Fatal("no connection ended")
		return nil
	}
}

// pending is how many received messages nobody has taken yet.
func (s *testServer) pending() int { return len(s.msgs) }

// countingListener counts the bytes read from the connections it accepts.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}
