// Package wstest is a real WebSocket server on 127.0.0.1 for tests, with
// knobs for the failures a client must survive: refused handshakes,
// unanswered pings, a peer that never reads, acknowledgements
// (beats-ack.v1), TLS, compression, resets and dropped connections. Every
// wait is bounded by Wait; reaching it fails the test.
package wstest

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
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

// Wait bounds every wait of the server's methods; reaching it is a
// failure, never part of the expected behaviour.
const Wait = 10 * time.Second

// Server is a real WebSocket server on 127.0.0.1 with knobs for the
// failures a client must survive.
type Server struct {
	*httptest.Server
	t *testing.T

	// Set before the first connection.
	Refuse     int  // answer the handshake with this HTTP status
	IgnorePing bool // never answer pings (a peer that went silent)
	NoRead     bool // accept, then never read (a stalled peer)
	// NoCloseAnswer: a close frame from the client is reported (End) but
	// not answered, and the connection kept open, as a server busy
	// elsewhere leaves it.
	NoCloseAnswer bool
	Ack           bool // select the beats-ack.v1 subprotocol
	AckEvery      int  // with ack: acknowledge every n-th message; 0: only when the test says
	TLS           bool // serve wss, with httptest's certificate (certPEM)
	Compress      bool // accept permessage-deflate

	// Reset the connection after this many messages; may change at any time.
	ResetAfter atomic.Int64
	// Close this many of the next connections as soon as they are
	// upgraded, as a server that checks a token after the upgrade, or is
	// overloaded, would; may change at any time.
	DropNext atomic.Int64

	msgs       chan string          // every message received, in order
	handshakes chan *http.Request   // every handshake request, refused ones too
	conns      chan *websocket.Conn // every accepted connection
	ends       chan error           // why each connection's read loop ended
	Pings      atomic.Int64
	Wire       atomic.Int64 // bytes read from the network, framing and handshakes included
	Binary     atomic.Int64 // binary messages received (the rest were text)

	done     chan struct{} // closed by stop
	stopOnce sync.Once
	writeMu  sync.Mutex // serialises send
	mu       sync.Mutex
	live     []*websocket.Conn // closed by stop: httptest does not track upgraded connections
	wg       sync.WaitGroup
}

func New(t *testing.T, configure func(*Server)) *Server {
	t.Helper()
	return NewAt(t, "127.0.0.1:0", configure)
}

// NewAt is New on a given address, for a server that
// comes up where a client has been failing to connect.
func NewAt(t *testing.T, addr string, configure func(*Server)) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
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
	s.Server.Listener = &countingListener{Listener: ln, n: &s.Wire}
	if s.TLS {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.wg.Add(1)
	defer s.wg.Done()
	s.handshakes <- r
	if s.Refuse != 0 {
		http.Error(w, "refused by test", s.Refuse)
		return
	}
	upgrader := websocket.Upgrader{EnableCompression: s.Compress}
	if s.Ack {
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
		s.Pings.Add(1)
		if s.IgnorePing {
			return nil
		}
		return pong(data)
	})
	if s.DropNext.Add(-1) >= 0 {
		s.ends <- errDropped
		return
	}
	s.DropNext.Add(1)
	s.conns <- ws
	if s.NoRead {
		<-s.done
		return
	}
	if s.NoCloseAnswer {
		ws.SetCloseHandler(func(int, string) error { return nil })
	}
	for n := int64(1); ; n++ {
		typ, msg, err := ws.ReadMessage()
		if err != nil {
			s.ends <- err
			if s.NoCloseAnswer && websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				<-s.done
			}
			return
		}
		if typ == websocket.BinaryMessage {
			s.Binary.Add(1)
		}
		s.msgs <- string(msg)
		if s.Ack && s.AckEvery > 0 && n%int64(s.AckEvery) == 0 {
			s.Send(ws, websocket.TextMessage, string(protocol.AppendAck(nil, uint64(n))))
		}
		if n == s.ResetAfter.Load() {
			TCPConn(ws).SetLinger(0) // close with an RST
			return
		}
	}
}

// TCPConn is the TCP connection under one of the server's connections.
func TCPConn(ws *websocket.Conn) *net.TCPConn {
	return ws.NetConn().(*countingConn).Conn.(*net.TCPConn)
}

// errDropped is the end of a connection the server dropped at once.
var errDropped = errors.New("dropped by the test server as soon as it was upgraded")

// Send writes a message to a client; tests call it while the handler may
// be acknowledging on the same connection, and gorilla allows one writer.
func (s *Server) Send(ws *websocket.Conn, typ int, msg string) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := ws.WriteMessage(typ, []byte(msg)); err != nil {
		s.t.Logf("server send %q: %v", msg, err)
	}
}

// track registers ws for stop to close; false if the server is stopping.
func (s *Server) track(ws *websocket.Conn) bool {
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

// Stop closes the listener and every connection, then waits for handlers.
// Idempotent.
func (s *Server) Stop() {
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

// Addr is host:port, as config.Addr takes it.
func (s *Server) Addr() string {
	return s.Listener.Addr().String()
}

// CertPEM writes the server's certificate (httptest's, its own CA) to a
// PEM file, for ssl.certificate_authorities.
func (s *Server) CertPEM() string {
	s.t.Helper()
	path := filepath.Join(s.t.TempDir(), "ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	if err := os.WriteFile(path, block, 0o600); err != nil {
		s.t.Fatal(err)
	}
	return path
}

// CertPool holds the server's certificate (httptest's, its own CA), for a
// client's RootCAs.
func (s *Server) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return pool
}

// Handshake returns the next handshake request.
func (s *Server) Handshake() *http.Request {
	s.t.Helper()
	select {
	case r := <-s.handshakes:
		return r
	case <-time.After(Wait):
		s.t.Fatal("no handshake")
		return nil
	}
}

// Conn returns the server side of the next accepted connection.
func (s *Server) Conn() *websocket.Conn {
	s.t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(Wait):
		s.t.Fatal("no connection accepted")
		return nil
	}
}

// Receive returns the next n messages.
func (s *Server) Receive(n int) []string {
	s.t.Helper()
	got := make([]string, 0, n)
	timeout := time.After(Wait)
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

// End returns why the next connection's read loop ended.
func (s *Server) End() error {
	s.t.Helper()
	select {
	case err := <-s.ends:
		return err
	case <-time.After(Wait):
		s.t.Fatal("no connection ended")
		return nil
	}
}

// Handshakes is how many handshake requests nobody has taken yet
// (Handshake).
func (s *Server) Handshakes() int { return len(s.handshakes) }

// Pending is how many received messages nobody has taken yet.
func (s *Server) Pending() int { return len(s.msgs) }

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
