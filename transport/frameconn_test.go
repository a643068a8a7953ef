package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

// countedSockets makes the client's sockets count their writes (the
// handshake's request is the first), and fail the one numbered failAt
// (from 1; 0: none) without writing a byte.
type countedSockets struct {
	writes atomic.Int64
	failAt int64
}

var errInjected = errors.New("injected write failure")

func (s *countedSockets) onSockets(o *Options) {
	var d net.Dialer
	o.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countedConn{Conn: conn, s: s}, nil
	}
}

type countedConn struct {
	net.Conn
	s *countedSockets
}

func (c *countedConn) Write(p []byte) (int, error) {
	if c.s.writes.Add(1) == c.s.failAt {
		return 0, errInjected
	}
	return c.Conn.Write(p)
}

// WriteMore holds messages until Write, which sends them all with its own
// in one write of the socket; the messages arrive as they were written.
func TestConn_WriteMoreHoldsMessagesUntilWriteSendsThemInOneWrite(t *testing.T) {
	s := wstest.New(t, nil)
	opts := testOptions(s)
	var sockets countedSockets
	sockets.onSockets(&opts)
	c, _ := newTestClient(t, opts)
	mustConnect(t, c)
	cn := c.Current()
	handshake := sockets.writes.Load()

	for i := 1; i <= 99; i++ {
		seq, err := cn.WriteMore(websocket.TextMessage, fmt.Appendf(nil, "message %d", i))
		if err != nil || seq != uint64(i) {
			t.Fatalf("WriteMore %d: number %d, %v", i, seq, err)
		}
	}
	if n := sockets.writes.Load() - handshake; n != 0 || cn.Flushed() != 0 {
		t.Fatalf("%d writes of the socket, %d messages flushed, before Write: want none", n, cn.Flushed())
	}
	if seq, err := cn.Write(websocket.TextMessage, []byte("message 100")); err != nil || seq != 100 {
		t.Fatalf("Write: number %d, %v", seq, err)
	}
	if n := sockets.writes.Load() - handshake; n != 1 || cn.Flushed() != 100 {
		t.Fatalf("%d writes of the socket, %d messages flushed, after Write: want 1 and 100", n, cn.Flushed())
	}
	for i, got := range s.Receive(100) {
		if want := fmt.Sprintf("message %d", i+1); got != want {
			t.Fatalf("message %d is %q, want %q", i+1, got, want)
		}
	}
}

// Held messages go out once they fill the buffer, a buffer at a time,
// also the frames of a message larger than the buffer, but for its last.
func TestConn_WriteMoreSendsAFullBuffer(t *testing.T) {
	s := wstest.New(t, nil)
	opts := testOptions(s)
	var sockets countedSockets
	sockets.onSockets(&opts)
	c, _ := newTestClient(t, opts)
	mustConnect(t, c)
	cn := c.Current()
	handshake := sockets.writes.Load()

	msg := strings.Repeat("m", 10<<10) // six fit in the buffer, framed, not seven
	for i := 1; i <= 7; i++ {
		if _, err := cn.WriteMore(websocket.BinaryMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	if n := sockets.writes.Load() - handshake; n != 1 || cn.Flushed() != 6 {
		t.Fatalf("after 7 held messages of 10 KiB: %d writes of the socket and %d messages flushed, want 1 and 6", n, cn.Flushed())
	}
	if _, err := cn.WriteMore(websocket.BinaryMessage, make([]byte, 200<<10)); err != nil {
		t.Fatal(err)
	}
	if n := sockets.writes.Load() - handshake; n != 5 || cn.Flushed() != 7 {
		t.Fatalf("after a held message of four frames: %d writes of the socket and %d messages flushed, want 5 and 7", n, cn.Flushed())
	}
	if _, err := cn.Write(websocket.BinaryMessage, []byte("end")); err != nil {
		t.Fatal(err)
	}
	if n := sockets.writes.Load() - handshake; n != 6 || cn.Flushed() != 9 {
		t.Fatalf("after Write: %d writes of the socket and %d messages flushed, want 6 and 9", n, cn.Flushed())
	}
	s.Receive(9)
}

// Pings and their pongs go out while messages are held: a publisher held
// up between two events does not look like a dead server.
func TestConn_PingsGoOutWhileMessagesAreHeld(t *testing.T) {
	s := wstest.New(t, nil)
	opts := testOptions(s)
	opts.PingInterval, opts.PingTimeout = 20*time.Millisecond, 50*time.Millisecond
	c, _ := newTestClient(t, opts)
	mustConnect(t, c)
	cn := c.Current()

	if _, err := cn.WriteMore(websocket.TextMessage, []byte("held")); err != nil {
		t.Fatal(err)
	}
	pings := s.Pings.Load()
	deadline := time.Now().Add(wait)
	for s.Pings.Load() < pings+10 {
		if time.Now().After(deadline) {
			t.Fatalf("%d pings reached the server while a message was held, want 10", s.Pings.Load()-pings)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cn.Err(); err != nil {
		t.Fatalf("the connection died while a message was held: %v", err)
	}
	if n := s.Pending(); n != 0 || cn.Flushed() != 0 {
		t.Fatalf("the server received %d messages, %d flushed: the held one went out with the pings", n, cn.Flushed())
	}
	if _, err := cn.Write(websocket.TextMessage, []byte("last")); err != nil {
		t.Fatal(err)
	}
	if got := s.Receive(2); got[0] != "held" || got[1] != "last" {
		t.Fatalf("received %q", got)
	}
}

// Close discards what is held: nothing may follow the close frame, and the
// server never gets those messages.
func TestConn_CloseDiscardsHeldMessages(t *testing.T) {
	s := wstest.New(t, nil)
	c, _ := newTestClient(t, testOptions(s))
	mustConnect(t, c)
	cn := c.Current()
	if _, err := cn.Write(websocket.TextMessage, []byte("sent")); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := cn.WriteMore(websocket.TextMessage, []byte("held")); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if end := s.End(); !websocket.IsCloseError(end, websocket.CloseNormalClosure) {
		t.Fatalf("the server saw %v, want the close frame", end)
	}
	if got := s.Receive(1); got[0] != "sent" || s.Pending() != 0 {
		t.Fatalf("the server received %q and %d more, want only the message written before the held ones", got, s.Pending())
	}
	if cn.Flushed() != 1 {
		t.Fatalf("%d messages flushed, want 1", cn.Flushed())
	}
}

// When a write of the socket fails, Flushed says which messages went out
// in the writes before it; the server has exactly those.
func TestConn_AFailedWriteLeavesFlushedAtTheLastWriteThatSucceeded(t *testing.T) {
	s := wstest.New(t, nil)
	opts := testOptions(s)
	sockets := countedSockets{failAt: 3} // the handshake, six messages, then the failure
	sockets.onSockets(&opts)
	c, m := newTestClient(t, opts)
	mustConnect(t, c)
	cn := c.Current()

	msg := strings.Repeat("m", 10<<10)
	var err error
	for i := 1; i <= 20 && err == nil; i++ {
		_, err = cn.WriteMore(websocket.BinaryMessage, []byte(msg))
	}
	if !errors.Is(err, errInjected) {
		t.Fatalf("writing failed with %v, want the injected failure", err)
	}
	if cn.Flushed() != 6 {
		t.Fatalf("Flushed is %d, want 6: the messages of the one write that succeeded", cn.Flushed())
	}
	s.Receive(6)
	s.End()
	if n := s.Pending(); n != 0 {
		t.Fatalf("the server received %d messages more than were flushed", n)
	}
	if n := m.writeErrors.Load(); n != 1 {
		t.Fatalf("%d write errors counted, want 1", n)
	}
}

// A server that acknowledges a message still held was never sent it: a
// protocol error, as any count beyond what the socket took.
func TestAck_AckOfAHeldMessageIsAProtocolError(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Ack = true })
	c, _ := newTestClient(t, ackTestOptions(s))
	mustConnect(t, c)
	ws := s.Conn()
	cn := c.Current()
	if _, err := cn.Write(websocket.TextMessage, []byte("sent")); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := cn.WriteMore(websocket.TextMessage, []byte("held")); err != nil {
			t.Fatal(err)
		}
	}
	s.Receive(1)
	s.Send(ws, websocket.TextMessage, `{"ack":2}`)
	if err := waitDead(t, c); err == nil || !strings.Contains(err.Error(), "server acknowledged 2 messages, only 1 were sent") {
		t.Fatalf("connection died of %v, want a protocol error", err)
	}
}
