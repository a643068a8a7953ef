package transport

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

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
