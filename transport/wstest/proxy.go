package wstest

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Proxy is a real proxy on 127.0.0.1 that tunnels TCP: HTTP CONNECT
// (optionally over TLS, an https:// proxy) or SOCKS5 without
// authentication. It records what each client asked for.
type Proxy struct {
	t        *testing.T
	ln       net.Listener
	socks    bool
	Refuse   int               // CONNECT: answer with this status instead of tunnelling
	Silent   bool              // CONNECT: never answer
	Aliases  map[string]string // CONNECT: host:port to dial instead of the one asked for
	Requests chan *http.Request
	targets  chan string // every host:port tunnelled to

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// NewProxy starts a proxy of kind http, https (its certificate is
// httptest's) or socks5; configure sets its knobs before it accepts.
func NewProxy(t *testing.T, kind string, configure func(*Proxy)) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{t: t, ln: ln, socks: kind == "socks5",
		Requests: make(chan *http.Request, 10), targets: make(chan string, 10)}
	if kind == "https" {
		srv := httptest.NewUnstartedServer(nil)
		srv.StartTLS() // only for its certificate
		p.ln = tls.NewListener(ln, srv.TLS.Clone())
		srv.Close()
	}
	if configure != nil {
		configure(p)
	}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string {
	return p.ln.Addr().String()
}

// URL is the proxy's URL with the given scheme.
func (p *Proxy) URL(scheme string) string {
	return scheme + "://" + p.ln.Addr().String()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.track(c)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			var target net.Conn
			if p.socks {
				target = p.socks5(c)
			} else {
				target = p.connect(c)
			}
			if target == nil {
				return
			}
			p.track(target)
			defer target.Close()
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				io.Copy(target, c)
				target.Close()
			}()
			io.Copy(c, target)
		}()
	}
}

func (p *Proxy) track(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, c)
}

// Close stops the proxy and closes its connections; the test's cleanup
// calls it.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// connect answers an HTTP CONNECT request and dials its target.
func (p *Proxy) connect(c net.Conn) net.Conn {
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil || req.Method != http.MethodConnect {
		return nil
	}
	p.Requests <- req
	if p.Silent {
		io.Copy(io.Discard, c) // until the client or close ends it
		return nil
	}
	if p.Refuse != 0 {
		fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n", p.Refuse, http.StatusText(p.Refuse))
		return nil
	}
	addr := req.Host
	if a, ok := p.Aliases[addr]; ok {
		addr = a
	}
	target, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Fprint(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return nil
	}
	p.targets <- req.Host
	fmt.Fprint(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	return target
}

// socks5 answers a SOCKS5 greeting and CONNECT (RFC 1928, no
// authentication) and dials its target.
func (p *Proxy) socks5(c net.Conn) net.Conn {
	var hello [2]byte
	if _, err := io.ReadFull(c, hello[:]); err != nil || hello[0] != 5 {
		return nil
	}
	if _, err := io.ReadFull(c, make([]byte, hello[1])); err != nil {
		return nil
	}
	c.Write([]byte{5, 0}) // no authentication
	var head [4]byte      // version, command, reserved, address type
	if _, err := io.ReadFull(c, head[:]); err != nil || head[1] != 1 {
		return nil
	}
	var host string
	switch head[3] {
	case 1:
		ip := make([]byte, 4)
		io.ReadFull(c, ip)
		host = net.IP(ip).String()
	case 3:
		n := make([]byte, 1)
		io.ReadFull(c, n)
		name := make([]byte, n[0])
		io.ReadFull(c, name)
		host = string(name)
	default:
		return nil
	}
	var port [2]byte
	if _, err := io.ReadFull(c, port[:]); err != nil {
		return nil
	}
	addr := net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port[:]))))
	target, err := net.Dial("tcp", addr)
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return nil
	}
	p.targets <- addr
	c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	return target
}

// Target returns the next host:port the proxy tunnelled to.
func (p *Proxy) Target() string {
	p.t.Helper()
	select {
	case a := <-p.targets:
		return a
	case <-time.After(Wait):
		p.t.Fatal("the proxy tunnelled nothing")
		return ""
	}
}

// Request returns the next CONNECT request.
func (p *Proxy) Request() *http.Request {
	p.t.Helper()
	select {
	case r := <-p.Requests:
		return r
	case <-time.After(Wait):
		p.t.Fatal("the proxy got no CONNECT request")
		return nil
	}
}
