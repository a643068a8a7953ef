package e2e

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// A server that accepts the WebSocket upgrade and drops the connection at
// once, as one that checks a token after the upgrade, an overloaded one or a
// misrouted load balancer does. The handshake succeeds every time, so only
// a backoff that keeps growing until a connection proves healthy keeps
// Filebeat from redialling it every backoff.init.
const (
	dropBackoffInit = 200 * time.Millisecond
	dropBackoffMax  = 8 * time.Second
	dropWindow      = 20 * time.Second
	// After the n-th failure in a row the wait is drawn between
	// backoff.init and backoff.init × 2^n, capped at backoff.max: on
	// average 0.2, 0.3, 0.5, 0.9, 1.7, 3.3, then nearly always 8 s, about
	// 9 connections in 20 s; at worst (every wait its longest) 7. Before
	// the backoff had to be earned back, it was reset by every handshake:
	// 94 connections in 20 s.
	dropMinConnections = 6
	dropMaxConnections = 30
)

func TestBackoff_ServerThatAcceptsAndDropsEveryConnectionIsRedialledLessAndLessOften(t *testing.T) {
	for _, acks := range []bool{false, true} {
		name := "acks off"
		if acks {
			name = "acks on"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel() // mostly waiting
			dir := t.TempDir()
			log := filepath.Join(dir, "app.log")
			srv := startDroppingServer(t)
			// Filebeat connects only when it has something to send: the log
			// keeps growing.
			growLog(t, log, 100, 100+int(dropWindow/time.Second+10)*100, 100, time.Second)
			fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), inputFor(log), fmt.Sprintf(
				"hosts: [\"ws://%s/echo\"]\nack.enabled: %v\nbackoff.init: %v\nbackoff.max: %v\n", srv.addr, acks, dropBackoffInit, dropBackoffMax))
			waitFor(t, time.Minute, "the first connection", func() bool { return len(srv.times()) > 0 })
			first := srv.times()[0]
			time.Sleep(dropWindow - time.Since(first)) // the window under test
			alive(t, fb)
			var n int
			var gaps []string
			times := srv.times()
			for i, at := range times {
				if at.Sub(first) < dropWindow {
					n++
					if i > 0 {
						gaps = append(gaps, at.Sub(times[i-1]).Round(10*time.Millisecond).String())
					}
				}
			}
			t.Logf("%s: %d connections in %v (backoff.init %v, backoff.max %v); waits: %v", name, n, dropWindow, dropBackoffInit, dropBackoffMax, gaps)
			if n < dropMinConnections || n > dropMaxConnections {
				t.Fatalf("%d connections in %v, want %d to %d: the backoff does not grow to backoff.max", n, dropWindow, dropMinConnections, dropMaxConnections)
			}
		})
	}
}

// droppingServer upgrades every connection, selecting beats-ack.v1 when
// offered, and at once closes it with a policy-violation close frame.
type droppingServer struct {
	addr string
	mu   sync.Mutex
	at   []time.Time // when each connection was accepted
}

func startDroppingServer(t *testing.T) *droppingServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &droppingServer{addr: ln.Addr().String()}
	up := websocket.Upgrader{Subprotocols: []string{protocol.Subprotocol}}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.at = append(s.at, time.Now())
		s.mu.Unlock()
		msg := websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "token expired")
		_ = ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		ws.Close()
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return s
}

func (s *droppingServer) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.at...)
}
