package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/beats-websocket/websocket-output/transport/wstest"
	"github.com/gorilla/websocket"
)

// A peer that reads at rate bytes a second, in 1/20 s steps: the client's
// end, with the kernel's own buffer sizes, wrapped in a stallConn with the
// given timeout, and a func that stops the reading.
func slowPeer(t *testing.T, rate int, timeout time.Duration) (*stallConn, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, rate/20)
		for {
			select {
			case <-stop:
				<-t.Context().Done()
				return
			case <-time.After(50 * time.Millisecond): // the pace of the peer
			}
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc := newStallConn(conn, timeout)
	t.Cleanup(func() {
		sc.Close()
		<-done
	})
	stopped := false
	return sc, func() {
		if !stopped {
			close(stop)
			stopped = true
		}
	}
}

// The kernel lets a writer blocked on a full send buffer in only once a good
// part of it is free: on a slow link that takes far longer than timeout,
// while the peer keeps taking data. Such a write must not time out: here 8
// MiB in one message at 32 KiB/s with timeout 2s, ws and wss, which before
// failed within 2 to 6 s (the kernel's send buffer grows to 4 MiB). The
// write would take minutes; the test watches it for 8 s.
func TestConn_AWriteTheServerKeepsTakingNeverTimesOut(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		name := map[bool]string{false: "ws", true: "wss"}[tlsOn]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := wstest.New(t, func(s *wstest.Server) { s.TLS = tlsOn })
			opts := testOptions(s)
			if tlsOn {
				opts.URL.Scheme = "wss"
				opts.TLS = &tls.Config{RootCAs: s.CertPool(), ServerName: "127.0.0.1"}
			}
			opts.URL.Host = wstest.Trickle(t, s.Addr(), 32<<10)
			opts.Timeout = 2 * time.Second
			opts.PingInterval = 0
			c, m := newTestClient(t, opts)
			mustConnect(t, c)
			cn := c.Current()
			result := make(chan error, 1)
			go func() {
				_, err := cn.Write(websocket.BinaryMessage, make([]byte, 8<<20))
				result <- err
			}()
			select {
			case err := <-result:
				t.Fatalf("the write ended while the server was taking data: %v", err)
			case <-time.After(8 * time.Second): // the time under test
			}
			c.Close()
			<-result
			if n := m.writeErrors.Load(); n != 0 {
				t.Fatalf("%d write errors", n)
			}
		})
	}
}

// A write the peer stops taking fails within three windows of timeout: one
// in which the kernel fills its buffer, one in which what was in flight is
// acknowledged, one without either.
func TestStallConn_AWriteThePeerStoppedTakingFails(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	sc, stop := slowPeer(t, 128<<10, timeout)
	stop()
	start := time.Now()
	_, err := sc.Write(make([]byte, 8<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a peer that stopped reading: %v, want a timeout", err)
	}
	if took := time.Since(start); took > 3*timeout+time.Second {
		t.Fatalf("the stalled write failed after %v, want within about 2 × %v", took, timeout)
	}
}

// A deadline from above still bounds a write, also when set from another
// goroutine during it, as a dial's cancellation does.
func TestStallConn_ADeadlineFromAboveEndsAWrite(t *testing.T) {
	t.Parallel()
	sc, stop := slowPeer(t, 128<<10, time.Hour)
	stop()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	stopAfter := context.AfterFunc(ctx, func() { _ = sc.SetDeadline(time.Unix(1, 0)) })
	defer stopAfter()
	start := time.Now()
	_, err := sc.Write(make([]byte, 8<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) > wait {
		t.Fatalf("write with a deadline set in the past during it: %v after %v", err, time.Since(start))
	}
}
