package transport

import (
	"context"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

// probe sees which goroutine asks the socket for TCP_INFO (the pinger or
// the watcher, via stallConn.acknowledged) and can hold a data write.
type probe struct {
	onPing  func()
	onWatch func()

	blockData atomic.Bool
	inWrite   chan struct{}
	release   chan struct{}
	once      sync.Once
}

type probeConn struct {
	*net.TCPConn
	p *probe
}

func (c *probeConn) Write(b []byte) (int, error) {
	if c.p.blockData.Load() && len(b) > 0 && b[0]&0x0f < 0x8 {
		c.p.once.Do(func() { close(c.p.inWrite) })
		<-c.p.release
	}
	return c.TCPConn.Write(b)
}

func (c *probeConn) SyscallConn() (syscall.RawConn, error) {
	raw, err := c.TCPConn.SyscallConn()
	return probeRaw{RawConn: raw, p: c.p}, err
}

type probeRaw struct {
	syscall.RawConn
	p *probe
}

func (r probeRaw) Control(f func(uintptr)) error {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		fr, more := frames.Next()
		switch {
		case strings.HasSuffix(fr.Function, ".(*Conn).ping"):
			if r.p.onPing != nil {
				r.p.onPing()
			}
		case strings.HasSuffix(fr.Function, ".(*Conn).watch"):
			if r.p.onWatch != nil {
				r.p.onWatch()
			}
		}
		if !more {
			break
		}
	}
	return r.RawConn.Control(f)
}

// A ping is skipped when its tick finds the publisher writing (or its last
// bytes not yet acknowledged by the server's TCP), which on a fast link
// lasts microseconds, and the watcher, which samples on its own ticks, may
// never see that data waiting. No ping went out, so no pong comes: the
// watcher must take the skipped ping as data waiting, and the server's TCP
// taking it as life, or a server that answers every ping is declared dead.
// (The probe holds the write until the pinger has looked, and the
// watcher's checks until the write's bytes are acknowledged: a short write
// between two of the watcher's ticks.)
func TestLiveness_APingSkippedForAShortWriteDoesNotKillAnAnsweringServer(t *testing.T) {
	s := wstest.New(t, nil)
	opts := testOptions(s)
	opts.PingInterval = 300 * time.Millisecond
	opts.PingTimeout = 100 * time.Millisecond // watcher every 25 ms
	p := &probe{inWrite: make(chan struct{}), release: make(chan struct{})}
	var d net.Dialer
	opts.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &probeConn{TCPConn: conn.(*net.TCPConn), p: p}, nil
	}
	startWrite := make(chan struct{})
	pinged := make(chan struct{})
	watchGate := make(chan struct{})
	var gated atomic.Bool
	var pingOnce sync.Once
	var pings atomic.Int32
	p.onPing = func() {
		if pings.Add(1) != 2 { // the second ping: the first was answered
			return
		}
		pingOnce.Do(func() {
			gated.Store(true)
			close(startWrite)
			<-p.inWrite // the publisher is writing as the pinger looks
			close(pinged)
		})
	}
	p.onWatch = func() {
		if gated.Load() {
			<-watchGate
		}
	}
	c, _ := newTestClient(t, opts)
	mustConnect(t, c)
	cn := c.Current()
	defer func() {
		select {
		case <-watchGate:
		default:
			close(watchGate)
		}
	}()

	wrote := make(chan error, 1)
	go func() { // the publisher
		<-startWrite
		p.blockData.Store(true)
		_, err := cn.Write(websocket.BinaryMessage, []byte("event"))
		wrote <- err
	}()
	select {
	case <-pinged:
	case <-time.After(wait):
		t.Fatal("no ping tick")
	}
	time.Sleep(20 * time.Millisecond) // the pinger reads writing just after its look
	p.blockData.Store(false)
	close(p.release)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	for { // the server's TCP takes the bytes at once, as on a fast link
		if n, ok := cn.sc.acknowledged(); ok && n >= cn.sc.written.Load() {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(watchGate)

	select {
	case <-cn.Done():
		t.Fatalf("a server that answers every ping was declared dead: %v (pings answered: %d)", cn.Err(), s.Pings.Load())
	case <-time.After(3 * opts.PingInterval):
	}
}
