package transport

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

func TestConnect_ReportsHTTPStatusWhenHandshakeRefused(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Refuse = http.StatusUnauthorized })
	c, _ := newTestClient(t, testOptions(s))

	err := c.Connect()
	if err == nil {
		t.Fatal("connect succeeded against a refusing server")
	}
	for _, want := range []string{"401 Unauthorized", "ws://" + s.Addr() + "/ws"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not contain %q", err, want)
		}
	}
}

func TestConnect_BacksOffAfterFailedDials(t *testing.T) {
	// Reserve a port, then free it: nothing listens there for now.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	cfg := defaultOptions(addr)
	cfg.BackoffInit, cfg.BackoffMax = 100*time.Millisecond, time.Second
	c, _ := newTestClient(t, cfg)

	if err := c.Connect(); err == nil {
		t.Fatal("connect to a closed port succeeded")
	}
	for i := 1; i <= 3; i++ {
		start := time.Now()
		if err := c.Connect(); err == nil {
			t.Fatal("connect to a closed port succeeded")
		}
		if waited := time.Since(start); waited < cfg.BackoffInit {
			t.Fatalf("retry %d came after %v, want a backoff of at least %v", i, waited, cfg.BackoffInit)
		}
		if got := c.backoff.Attempt(); got != float64(i) {
			t.Fatalf("backoff attempt %v after %d retries", got, i)
		}
	}

	// The server comes up on that port: the next connect succeeds. The
	// backoff starts over only once the connection proves healthy
	// (backoff_test.go).
	s := wstest.NewAt(t, addr, nil)
	mustConnect(t, c)
	if got := c.backoff.Attempt(); got != 4 {
		t.Fatalf("backoff attempt %v after a successful connect, want 4", got)
	}
	mustSend(t, c, 1)
	s.Receive(1)
}

func TestClose_DuringBackoffReturnsPromptly(t *testing.T) {
	cfg := defaultOptions("127.0.0.1:1") // nothing listens on port 1
	cfg.BackoffInit, cfg.BackoffMax = time.Hour, time.Hour
	c, _ := newTestClient(t, cfg)
	if err := c.Connect(); err == nil {
		t.Fatal("connect to port 1 succeeded")
	}

	result := make(chan error)
	go func() { result <- c.Connect() }() // waits an hour before dialing
	time.Sleep(50 * time.Millisecond)     // let it start waiting; not needed for correctness
	c.Close()
	select {
	case err := <-result:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("connect returned %v, want ErrClosed", err)
		}
	case <-time.After(wait):
		t.Fatal("Close did not end the backoff wait")
	}
}

func TestClose_SendsNormalCloseFrame(t *testing.T) {
	s := wstest.New(t, nil)
	c, _ := newTestClient(t, testOptions(s))
	mustConnect(t, c)

	c.Close()
	if err := s.End(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("server saw %v, want a normal close frame (1000)", err)
	}
}

func TestKeepalive_PongsKeepConnectionAlive(t *testing.T) {
	s := wstest.New(t, nil)
	cfg := testOptions(s)
	cfg.PingInterval = 20 * time.Millisecond
	cfg.PingTimeout = 500 * time.Millisecond
	c, _ := newTestClient(t, cfg)
	mustConnect(t, c)

	// Three windows of interval+timeout: without pongs the connection would
	// have been declared dead by now.
	deadline := time.Now().Add(3 * (cfg.PingInterval + cfg.PingTimeout))
	for time.Now().Before(deadline) {
		if err := c.Current().Err(); err != nil {
			t.Fatalf("connection declared dead although the server answers pings: %v", err)
		}
		time.Sleep(cfg.PingInterval)
	}
	if s.Pings.Load() < 3 {
		t.Fatalf("server saw %d pings", s.Pings.Load())
	}
	mustSend(t, c, 1)
	s.Receive(1)
}

func TestAck_ServerThatDoesNotSelectTheSubprotocolIsRefused(t *testing.T) {
	s := wstest.New(t, nil) // a server without acknowledgements
	c, _ := newTestClient(t, ackTestOptions(s))

	err := c.Connect()
	want := "server did not accept subprotocol beats-ack.v1; it cannot acknowledge"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("connect: %v, want %q", err, want)
	}
	if !c.wait {
		t.Fatal("the refusal must be followed by the usual backoff")
	}
	if c.Current() != nil {
		t.Fatal("refused connection kept")
	}
	// The server was told why.
	if end := s.End(); !websocket.IsCloseError(end, websocket.CloseProtocolError) {
		t.Fatalf("server saw %v, want a protocol-error close frame", end)
	}
}

// A server that accepts the TCP connection but never answers the handshake
// would hold Connect for timeout; Close must end it at once, so that
// Filebeat can stop.
func TestConnect_CloseCutsShortAHandshakeTheServerNeverAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	requested := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				return // the client closed the connection
			}
			once.Do(func() { close(requested) })
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})

	cfg := defaultOptions(ln.Addr().String())
	cfg.Timeout = time.Minute // Close, not the timeout, must end it
	c, _ := newTestClient(t, cfg)
	connected := make(chan error, 1)
	go func() { connected <- c.Connect() }()
	select {
	case <-requested:
	case <-time.After(wait):
		t.Fatal("the handshake request never reached the server")
	}
	start := time.Now()
	closed := make(chan struct{})
	go func() {
		c.Close()
		close(closed)
	}()
	connectEndsAfterClose(t, connected, start, "the handshake's answer")
	select {
	case <-closed:
	case <-time.After(wait):
		t.Fatal("Close did not return")
	}
}

// connectEndsAfterClose waits for a Connect that was waiting for what when
// Close came at start: it must end with ErrClosed within 5 seconds.
func connectEndsAfterClose(t *testing.T, connected <-chan error, start time.Time, what string) {
	t.Helper()
	select {
	case err := <-connected:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Connect ended with %v, want %v", err, ErrClosed)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Connect took %v after Close", d)
		}
	case <-time.After(wait):
		t.Fatalf("Connect still waiting for %s after Close", what)
	}
}
