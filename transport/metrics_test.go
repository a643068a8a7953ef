package transport

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

// The connection metrics and the log of a lost connection: what an
// operator sees of connects, refusals and losses, when they happen.

func TestMetrics_ConnectFailuresAndRefusalsAreCountedWithTheirStatus(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Refuse = http.StatusForbidden })
	c, m := newTestClient(t, testOptions(s))
	if err := c.Connect(); err == nil {
		t.Fatal("connect succeeded against a refusing server")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	down, dm := newTestClient(t, defaultOptions(closed))
	if err := down.Connect(); err == nil {
		t.Fatal("connect to a closed port succeeded")
	}

	m.mu.Lock()
	refused := m.refused
	m.mu.Unlock()
	if m.connectFailed.Load() != 1 || len(refused) != 1 || refused[0] != http.StatusForbidden || m.connected.Load() != 0 {
		t.Fatalf("refused handshake: %d failed, statuses %v, %d connected; want 1 failed with 403, none connected",
			m.connectFailed.Load(), refused, m.connected.Load())
	}
	dm.mu.Lock()
	refused = dm.refused
	dm.mu.Unlock()
	if dm.connectFailed.Load() != 1 || len(refused) != 0 {
		t.Fatalf("closed port: %d failed, statuses %v; want 1 failed, no HTTP status", dm.connectFailed.Load(), refused)
	}
}

func TestMetrics_ASubprotocolRefusalIsAConnectFailure(t *testing.T) {
	s := wstest.New(t, nil) // selects no subprotocol
	c, m := newTestClient(t, ackTestOptions(s))
	if err := c.Connect(); err == nil {
		t.Fatal("connect succeeded without the subprotocol")
	}
	if m.connectFailed.Load() != 1 || m.connected.Load() != 0 {
		t.Fatalf("%d failed, %d connected; want 1 failed, none connected", m.connectFailed.Load(), m.connected.Load())
	}
}

// Each way a connection ends is counted once, by its reason; the open
// gauge goes back to 0; only a loss is logged, once, with the reason.
func TestMetrics_EachEndOfAConnectionIsCountedOnceByItsReason(t *testing.T) {
	cases := []struct {
		name   string
		server func(*wstest.Server)
		opts   func(*Options)
		end    func(t *testing.T, s *wstest.Server, c *Client)
		loss   Loss
		logged string // in the error logged; "" for none
	}{
		{"closed by the client", nil, nil,
			func(t *testing.T, _ *wstest.Server, c *Client) { c.Close() }, NotLost, ""},
		{"close frame", nil, nil,
			func(t *testing.T, s *wstest.Server, c *Client) {
				msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "restarting")
				if err := s.Conn().WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
					t.Fatal(err)
				}
			}, LostCloseFrame, "server closed the connection: websocket: close 1001 (going away): restarting"},
		{"missing pong", func(s *wstest.Server) { s.IgnorePing = true },
			func(o *Options) { o.PingInterval, o.PingTimeout = 50*time.Millisecond, 100*time.Millisecond },
			func(*testing.T, *wstest.Server, *Client) {}, LostPongTimeout, "no pong within ping_timeout (100ms)"},
		{"overdue ack", func(s *wstest.Server) { s.Ack = true },
			func(o *Options) { o.Acks, o.AckTimeout = true, 200*time.Millisecond },
			func(t *testing.T, _ *wstest.Server, c *Client) {
				cn := c.Current()
				seq, err := cn.Write(websocket.TextMessage, []byte("x"))
				if err != nil {
					t.Fatal(err)
				}
				cn.Await(&Pending{First: seq, Last: seq, Events: 1, Resolve: func(int) {}})
			}, LostAckTimeout, "no acknowledgement within ack.timeout (200ms) for 1 message(s)"},
		{"dropped without a close frame", nil, nil,
			func(t *testing.T, s *wstest.Server, _ *Client) { wstest.TCPConn(s.Conn()).Close() },
			LostReadError, "server closed the connection: websocket: close 1006 (abnormal closure)"},
		{"reset", nil, nil,
			func(t *testing.T, s *wstest.Server, _ *Client) {
				tcp := wstest.TCPConn(s.Conn())
				_ = tcp.SetLinger(0)
				tcp.Close()
			}, LostReadError, "read: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := wstest.New(t, tc.server)
			opts := testOptions(s)
			if tc.opts != nil {
				tc.opts(&opts)
			}
			c, m, log := newLoggedClient(t, opts)
			mustConnect(t, c)
			if m.connected.Load() != 1 || m.open.Load() != 1 {
				t.Fatalf("after connect: %d connected, %d open; want 1, 1", m.connected.Load(), m.open.Load())
			}
			cn := c.Current()
			tc.end(t, s, c)
			select {
			case <-cn.Done():
			case <-time.After(wait):
				t.Fatal("the connection never ended")
			}
			if got := m.ended(); len(got) != 1 || got[tc.loss] != 1 || m.open.Load() != 0 {
				t.Fatalf("ended %v with %d open, want one %v and none open", got, m.open.Load(), tc.loss)
			}
			logged := log.logged()
			if tc.logged == "" {
				if len(logged) != 0 {
					t.Fatalf("logged %q for a connection the client closed", logged)
				}
				return
			}
			if len(logged) != 1 || !strings.Contains(logged[0], tc.logged) || !strings.Contains(logged[0], c.Name()) {
				t.Fatalf("logged %q, want one error naming %s and %q", logged, c.Name(), tc.logged)
			}
		})
	}
}

// An idle connection's loss is logged when the reader notices it, not when
// the next batch finds the connection dead; the publisher is then told of
// the loss without its reason again, and nothing more is logged.
func TestLost_AnIdleConnectionsLossIsLoggedOnceWhenNoticed(t *testing.T) {
	s := wstest.New(t, nil)
	c, _, log := newLoggedClient(t, testOptions(s))
	mustConnect(t, c)
	cn := c.Current()
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "restarting")
	if err := s.Conn().WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	<-cn.Done() // fail logs before it closes Done
	if logged := log.logged(); len(logged) != 1 || !strings.Contains(logged[0], "close 1001") {
		t.Fatalf("when the reader noticed: logged %q, want the close frame once", logged)
	}

	_, err := c.Conn()
	var lost *LostError
	if !errors.As(err, &lost) || strings.Contains(err.Error(), "1001") || !strings.Contains(err.Error(), "logged then") {
		t.Fatalf("publisher told %v, want a LostError that refers to the log line", err)
	}
	var closeErr *websocket.CloseError
	if !errors.As(err, &closeErr) || closeErr.Code != websocket.CloseGoingAway {
		t.Fatalf("publisher told %v, want it to wrap the close frame", err)
	}
	if logged := log.logged(); len(logged) != 1 {
		t.Fatalf("logged %q, want the loss once", logged)
	}
}

// A batch awaiting acknowledgement is in the gauge until it is resolved,
// by ack or by the connection's end, and an acknowledged one has its
// latency measured.
func TestMetrics_BatchesAwaitingAckAndTheirLatency(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Ack = true })
	c, m := newTestClient(t, ackTestOptions(s))
	mustConnect(t, c)
	cn := c.Current()
	ws := s.Conn()
	resolved := make(chan int, 2)
	for range 2 {
		seq, err := cn.Write(websocket.TextMessage, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		cn.Await(&Pending{First: seq, Last: seq, Events: 1, Resolve: func(n int) { resolved <- n }})
	}
	if m.awaiting.Load() != 2 {
		t.Fatalf("%d batches awaiting, want 2", m.awaiting.Load())
	}
	s.Receive(2)
	s.Send(ws, websocket.TextMessage, `{"ack":1}`)
	select {
	case <-resolved:
	case <-time.After(wait):
		t.Fatal("the first batch was never resolved")
	}
	if m.awaiting.Load() != 1 || m.acksTimed.Load() != 1 {
		t.Fatalf("after one ack: %d awaiting, %d latencies; want 1, 1", m.awaiting.Load(), m.acksTimed.Load())
	}
	c.Close() // gives the second up: the server does not acknowledge it
	select {
	case <-resolved:
	case <-time.After(wait):
		t.Fatal("the second batch was never resolved")
	}
	if m.awaiting.Load() != 0 || m.acksTimed.Load() != 1 {
		t.Fatalf("after close: %d awaiting, %d latencies; want 0, 1", m.awaiting.Load(), m.acksTimed.Load())
	}
}
