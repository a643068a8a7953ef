package e2e

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// faultProxy is the tests' own TCP proxy between Filebeat and a server. It
// forwards both ways until told to inflict a fault that a network or a
// server inflicts:
//
//   - blackhole: nothing is forwarded either way and nothing is closed, as
//     when a peer vanishes without a word (a half-open connection); new
//     connections are accepted and get the same silence;
//   - trickle: what Filebeat sends is passed on at a set number of bytes a
//     second, as a server that reads slowly; Filebeat's socket buffer fills
//     and its writes block;
//   - reset: once a connection has carried a set number of further bytes
//     from Filebeat, both sides get a TCP reset, mid-message.
type faultProxy struct {
	t        *testing.T
	ln       net.Listener
	addr     string // where Filebeat connects
	target   string
	accepted atomic.Int64 // connections from Filebeat
	resets   atomic.Int64 // connections reset

	mu         sync.Mutex
	blackhole  bool
	rate       int   // upstream bytes a second; 0: as fast as they come
	resetAfter int64 // reset a connection after this many more upstream bytes; 0: never
	resetGen   int   // counts changes of resetAfter
	links      map[*link]struct{}
	wg         sync.WaitGroup
}

// link is one proxied connection.
type link struct {
	client, server *net.TCPConn
	// Owned by the upstream pipe: bytes forwarded from Filebeat, and
	// their count when the reset setting last changed.
	up, resetBase int64
	resetGen      int
	closed        chan struct{}
	once          sync.Once
}

func startFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	// A small receive buffer, which connections inherit from the listener
	// before their window is agreed, makes a trickle felt at once.
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 32<<10)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{t: t, ln: ln, addr: ln.Addr().String(), target: target, links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			c.Close() // the server is down: Filebeat sees the connection closed
			continue
		}
		l := &link{client: c.(*net.TCPConn), server: s.(*net.TCPConn), closed: make(chan struct{})}
		p.mu.Lock()
		p.links[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(l, l.server, l.client, true)
		go p.pipe(l, l.client, l.server, false)
	}
}

// pipe copies src to dst until either side ends, subject to the faults.
func (p *faultProxy) pipe(l *link, dst, src *net.TCPConn, upstream bool) {
	defer p.wg.Done()
	defer p.drop(l, false)
	buf := make([]byte, 32<<10)
	for {
		chunk := buf
		if rate := p.setting().rate; upstream && rate > 0 {
			chunk = buf[:max(1, min(len(buf), rate/20))]
		}
		n, err := src.Read(chunk)
		if n > 0 && !p.forward(l, dst, chunk[:n], upstream) {
			return
		}
		if err != nil {
			return
		}
	}
}

// forward writes b to dst once the faults allow; false ends the link.
func (p *faultProxy) forward(l *link, dst *net.TCPConn, b []byte, upstream bool) bool {
	for p.setting().blackhole {
		select {
		case <-l.closed:
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
	s := p.setting()
	if upstream && l.resetGen != s.resetGen {
		l.resetGen, l.resetBase = s.resetGen, l.up // the count starts now
	}
	if upstream && s.resetAfter > 0 && l.up+int64(len(b)) >= l.resetBase+s.resetAfter {
		b = b[:l.resetBase+s.resetAfter-l.up]
		_, _ = dst.Write(b)
		p.drop(l, true)
		return false
	}
	if upstream && s.rate > 0 {
		time.Sleep(time.Duration(len(b)) * time.Second / time.Duration(s.rate))
	}
	if _, err := dst.Write(b); err != nil {
		return false
	}
	if upstream {
		l.up += int64(len(b))
	}
	return true
}

type faultSettings struct {
	blackhole  bool
	rate       int
	resetAfter int64
	resetGen   int
}

func (p *faultProxy) setting() faultSettings {
	p.mu.Lock()
	defer p.mu.Unlock()
	return faultSettings{blackhole: p.blackhole, rate: p.rate, resetAfter: p.resetAfter, resetGen: p.resetGen}
}

// setBlackhole starts or ends the blackhole, for open and new connections.
func (p *faultProxy) setBlackhole(on bool) {
	p.mu.Lock()
	p.blackhole = on
	p.mu.Unlock()
}

// setTrickle passes Filebeat's bytes on at rate bytes a second; 0 ends it.
func (p *faultProxy) setTrickle(rate int) {
	p.mu.Lock()
	p.rate = rate
	p.mu.Unlock()
}

// setResetAfter resets every connection once it has carried n more bytes
// from Filebeat; 0 ends it.
func (p *faultProxy) setResetAfter(n int64) {
	p.mu.Lock()
	p.resetAfter = n
	p.resetGen++
	p.mu.Unlock()
}

// drop ends a link: with reset, both sides get a TCP reset (RST) instead
// of an orderly close (FIN).
func (p *faultProxy) drop(l *link, reset bool) {
	l.once.Do(func() {
		if reset {
			p.resets.Add(1)
			_ = l.client.SetLinger(0)
			_ = l.server.SetLinger(0)
		}
		close(l.closed)
		l.client.Close()
		l.server.Close()
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	})
}

func (p *faultProxy) close() {
	if err := p.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		p.t.Error(err)
	}
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		p.drop(l, false)
	}
	p.wg.Wait()
}
