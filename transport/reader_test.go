package transport

import (
	"context"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

// A server whose process is stuck while its kernel still acknowledges what
// arrives, the pings included, is declared dead for want of pongs: the bytes
// of pings never count as data the server takes. Its kernel delays its
// acknowledgements, as over a network with a round trip, so that a ping is
// still unacknowledged when the watcher looks.
func TestKeepalive_AStuckServerWhoseKernelStillAcknowledgesIsDeclaredDead(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.NoRead = true })
	opts := testOptions(s)
	opts.PingInterval = 500 * time.Millisecond
	opts.PingTimeout = 500 * time.Millisecond
	c, _ := newTestClient(t, opts)
	mustConnect(t, c)
	raw, err := wstest.TCPConn(s.Conn()).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			// Linux turns quick acknowledgements back on by itself: keep
			// them off.
			_ = raw.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 0) })
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	if err := waitDead(t, c); err == nil || !strings.Contains(err.Error(), "no pong") {
		t.Fatalf("connection died of %v, want a missing pong", err)
	}
}

// On a slow link a batch's acknowledgement is due ack.timeout after its
// bytes reached the server, not after they went into the socket buffer:
// 512 KiB at 128 KiB/s take 4 s, the ack timeout is 2 s.
func TestAck_OnASlowLinkTheAckTimeoutCountsFromWhenTheBatchReachedTheServer(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Ack = true; s.AckEvery = 1 })
	opts := ackTestOptions(s)
	opts.URL.Host = wstest.Trickle(t, s.Addr(), 128<<10)
	opts.AckTimeout = 2 * time.Second
	opts.PingInterval = 0
	c, _ := newTestClient(t, opts)
	mustConnect(t, c)
	cn := c.Current()
	seq, err := cn.Write(websocket.BinaryMessage, make([]byte, 512<<10))
	if err != nil {
		t.Fatal(err)
	}
	resolved := make(chan int, 1)
	cn.Await(&Pending{First: seq, Last: seq, Events: 1, Resolve: func(n int) { resolved <- n }})
	select {
	case n := <-resolved:
		if n != 1 {
			t.Fatalf("the batch was resolved with %d of 1 event acknowledged (%v), want it acknowledged", n, cn.Err())
		}
	case <-time.After(wait):
		t.Fatal("the batch was never resolved")
	}
	if err := cn.Err(); err != nil {
		t.Fatalf("the connection died: %v", err)
	}
}

// A server has nothing to send but acks and control frames, so a message
// over readLimit ends the connection (the next connect starts afresh)
// instead of being buffered; one of exactly readLimit bytes is read and
// ignored.
func TestConn_MessageOverTheReadLimitEndsTheConnection(t *testing.T) {
	for _, typ := range []int{websocket.TextMessage, websocket.BinaryMessage} {
		t.Run(map[int]string{websocket.TextMessage: "text", websocket.BinaryMessage: "binary"}[typ], func(t *testing.T) {
			s := wstest.New(t, nil)
			c, obs := newTestClient(t, testOptions(s))
			mustConnect(t, c)
			ws := s.Conn()
			cn := c.Current()

			s.Send(ws, typ, strings.Repeat("x", readLimit))
			s.Send(ws, typ, strings.Repeat("x", readLimit+1))
			select {
			case <-cn.Done():
			case <-time.After(wait):
				t.Fatal("the connection survived a message over the read limit")
			}
			for _, want := range []string{"server sent a message over the 64 KiB read limit", "read limit exceeded"} {
				if !strings.Contains(cn.Err().Error(), want) {
					t.Fatalf("connection ended with %q, want it to say %q", cn.Err(), want)
				}
			}
			if n := obs.readErrors.Load(); n != 1 {
				t.Fatalf("%d read errors, want 1", n)
			}
			// The message of exactly readLimit bytes was read whole; of the
			// one after it, not a byte.
			if n := obs.readBytes.Load(); n != readLimit {
				t.Fatalf("read %d bytes of messages, want %d", n, readLimit)
			}
		})
	}
}

// mssDial dials with the segment size clamped to mss, so that loopback
// acknowledges in a network's steps rather than its own 64 KiB ones.
func mssDial(mss int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, mss)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	return d.DialContext
}

// A large message to a slow but working server, started just before a
// ping is due after an idle spell: the ping must not hold up the checks of
// whether the server takes the data, nor end the connection when its pong
// is late behind that data. (A second reviewer's case: with the defaults'
// ratio scaled by 1/10, it failed 7 of 19 runs.)
func TestKeepalive_APingDueAsALargeWriteStartsDoesNotEndAWorkingConnection(t *testing.T) {
	t.Parallel()
	s := wstest.New(t, nil)
	opts := testOptions(s)
	// The server's TCP takes data in bursts, a receive buffer's worth at a
	// time: at 64 KiB/s one every two seconds or so, within ping_interval +
	// ping_timeout.
	opts.URL.Host = wstest.Trickle(t, s.Addr(), 64<<10)
	opts.Dial = mssDial(1400)
	opts.Timeout = 2 * time.Second
	opts.PingInterval = 3 * time.Second
	opts.PingTimeout = time.Second
	c, m := newTestClient(t, opts)
	mustConnect(t, c)
	cn := c.Current()
	time.Sleep(2*opts.PingInterval - 150*time.Millisecond) // idle, one ping answered: the time under test
	result := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := cn.Write(websocket.BinaryMessage, make([]byte, 8<<20))
		result <- err
	}()
	select {
	case err := <-result:
		t.Fatalf("the write ended after %v while the server was taking data: %v", time.Since(start), err)
	case <-time.After(6 * time.Second): // the time under test
	}
	c.Close()
	<-result
	if n := m.writeErrors.Load() + m.readErrors.Load(); n != 0 {
		t.Fatalf("%d errors on a working connection", n)
	}
}

// A server that stops reading during a large message is declared dead
// within ping_interval + ping_timeout (and a check's period) of its last
// progress, not after the write has spent its windows: here 2s + 2s.
func TestKeepalive_AServerThatStopsReadingDuringALargeWriteIsDeclaredDeadInTime(t *testing.T) {
	t.Parallel()
	s := wstest.New(t, func(s *wstest.Server) { s.NoRead = true })
	opts := testOptions(s)
	opts.Timeout = 3 * time.Second
	opts.PingInterval = 2 * time.Second
	opts.PingTimeout = 2 * time.Second
	c, _ := newTestClient(t, opts)
	mustConnect(t, c)
	cn := c.Current()
	start := time.Now()
	go cn.Write(websocket.BinaryMessage, make([]byte, 64<<20))
	select {
	case <-cn.Done():
	case <-time.After(wait):
		t.Fatal("the connection was never declared dead")
	}
	if took := time.Since(start); took > opts.PingInterval+opts.PingTimeout+opts.PingTimeout/4+time.Second {
		t.Fatalf("declared dead %v after the write began (%v), want within ping_interval + ping_timeout and a check", took, cn.Err())
	}
}
