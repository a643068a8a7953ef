package wsclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http/httpproxy"

	"github.com/elastic/beats/v7/libbeat/outputs/outest"
)

// tunnelProxy is a real proxy on 127.0.0.1 that tunnels TCP: HTTP CONNECT
// (optionally over TLS, an https:// proxy) or SOCKS5 without
// authentication. It records what each client asked for.
type tunnelProxy struct {
	t        *testing.T
	ln       net.Listener
	socks    bool
	refuse   int               // CONNECT: answer with this status instead of tunnelling
	silent   bool              // CONNECT: never answer
	aliases  map[string]string // CONNECT: host:port to dial instead of the one asked for
	requests chan *http.Request
	targets  chan string // every host:port tunnelled to

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newTunnelProxy(t *testing.T, kind string, configure func(*tunnelProxy)) *tunnelProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tunnelProxy{t: t, ln: ln, socks: kind == "socks5",
		requests: make(chan *http.Request, 10), targets: make(chan string, 10)}
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
	t.Cleanup(p.close)
	return p
}

func (p *tunnelProxy) url(scheme string) string {
	return scheme + "://" + p.ln.Addr().String()
}

func (p *tunnelProxy) accept() {
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

func (p *tunnelProxy) track(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, c)
}

func (p *tunnelProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// connect answers an HTTP CONNECT request and dials its target.
func (p *tunnelProxy) connect(c net.Conn) net.Conn {
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil || req.Method != http.MethodConnect {
		return nil
	}
	p.requests <- req
	if p.silent {
		io.Copy(io.Discard, c) // until the client or close ends it
		return nil
	}
	if p.refuse != 0 {
		fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n", p.refuse, http.StatusText(p.refuse))
		return nil
	}
	addr := req.Host
	if a, ok := p.aliases[addr]; ok {
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
func (p *tunnelProxy) socks5(c net.Conn) net.Conn {
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

func (p *tunnelProxy) target() string {
	p.t.Helper()
	select {
	case a := <-p.targets:
		return a
	case <-time.After(wait):
		p.t.Fatal("the proxy tunnelled nothing")
		return ""
	}
}

func (p *tunnelProxy) request() *http.Request {
	p.t.Helper()
	select {
	case r := <-p.requests:
		return r
	case <-time.After(wait):
		p.t.Fatal("the proxy got no CONNECT request")
		return nil
	}
}

// proxied returns cfg with proxy_url set to u.
func proxied(cfg config, u string) config {
	cfg.ProxyURL = u
	return cfg
}

func TestConnect_ThroughEveryKindOfProxy(t *testing.T) {
	for _, kind := range []string{"http", "https", "socks5"} {
		t.Run(kind, func(t *testing.T) {
			s := newTestServer(t, nil)
			p := newTunnelProxy(t, kind, nil)
			cfg := proxied(testConfig(s), p.url(kind))
			if kind == "https" {
				cfg.TLS = tlsVerificationNone() // the proxy's certificate is httptest's
			}
			c, _ := newTestClient(t, cfg)
			mustConnect(t, c)
			if got := p.target(); got != s.addr() {
				t.Fatalf("the proxy tunnelled to %s, want the server %s", got, s.addr())
			}
			if err := c.Publish(context.Background(), batchOf(3)); err != nil {
				t.Fatal(err)
			}
			if got := s.receive(3); messageOf(t, got[2]) != "event 2" {
				t.Fatalf("through the proxy: %q", got)
			}
		})
	}
}

func TestConnect_SendsProxyCredentialsAndHeadersWithCONNECT(t *testing.T) {
	s := newTestServer(t, nil)
	p := newTunnelProxy(t, "http", nil)
	cfg := proxied(testConfig(s), "http://proxyuser:proxypass@"+p.ln.Addr().String())
	cfg.ProxyHeaders = map[string]string{"X-Proxy-Tenant": "blue"}
	c, _ := newTestClient(t, cfg)
	mustConnect(t, c)
	r := p.request()
	user, pass, ok := (&http.Request{Header: http.Header{"Authorization": r.Header["Proxy-Authorization"]}}).BasicAuth()
	if !ok || user != "proxyuser" || pass != "proxypass" || r.Header.Get("X-Proxy-Tenant") != "blue" || r.Host != s.addr() {
		t.Fatalf("CONNECT %s with headers %v", r.Host, r.Header)
	}
}

func TestConnect_ProxyRefusalNamesTheProxyWithoutItsPassword(t *testing.T) {
	s := newTestServer(t, nil)
	p := newTunnelProxy(t, "http", func(p *tunnelProxy) { p.refuse = http.StatusProxyAuthRequired })
	c, _ := newTestClient(t, proxied(testConfig(s), "http://proxyuser:proxypass@"+p.ln.Addr().String()))
	err := c.Connect()
	if err == nil || !strings.Contains(err.Error(), "407") || !strings.Contains(err.Error(), p.ln.Addr().String()) {
		t.Fatalf("connect through a refusing proxy: %v", err)
	}
	if strings.Contains(err.Error(), "proxypass") {
		t.Fatalf("the error shows the proxy's password: %v", err)
	}
}

func TestConnect_ProxyDisableConnectsDirectly(t *testing.T) {
	s := newTestServer(t, nil)
	p := newTunnelProxy(t, "http", nil)
	cfg := proxied(testConfig(s), p.url("http"))
	cfg.ProxyDisable = true
	c, _ := newTestClient(t, cfg)
	mustConnect(t, c)
	select {
	case r := <-p.requests:
		t.Fatalf("proxy_disable: the proxy got CONNECT %s", r.Host)
	default:
	}
	if err := c.Publish(context.Background(), outest.NewBatch(logEvent("direct"))); err != nil {
		t.Fatal(err)
	}
	s.receive(1)
}

func TestConnect_CloseCutsShortAProxyThatNeverAnswers(t *testing.T) {
	for _, kind := range []string{"http", "https"} {
		t.Run(kind, func(t *testing.T) {
			s := newTestServer(t, nil)
			p := newTunnelProxy(t, kind, func(p *tunnelProxy) { p.silent = true })
			cfg := proxied(testConfig(s), p.url(kind))
			cfg.TLS = tlsVerificationNone()
			cfg.Timeout = time.Minute // Close, not the timeout, must end it
			c, _ := newTestClient(t, cfg)
			connected := make(chan error, 1)
			go func() { connected <- c.Connect() }()
			p.request()
			start := time.Now()
			c.Close()
			connectEndsAfterClose(t, connected, start, "the proxy")
		})
	}
}

// The environment's proxy variables, as Go reads them: HTTP_PROXY for
// ws://, HTTPS_PROXY for wss://, NO_PROXY to bypass. Go's own reading is
// cached per process and never proxies loopback addresses, so the test
// gives the dialer a chooser from the same rules and a server name that
// only the proxy resolves.
func TestConnect_EnvironmentProxyVariablesChooseByScheme(t *testing.T) {
	const name = "logs.internal.test"
	for _, tc := range []struct {
		env     httpproxy.Config
		proxied bool
	}{
		{httpproxy.Config{HTTPProxy: "PROXY"}, true},
		{httpproxy.Config{HTTPSProxy: "PROXY"}, false}, // for wss:// only
		{httpproxy.Config{HTTPProxy: "PROXY", NoProxy: name}, false},
	} {
		s := newTestServer(t, nil)
		_, port, _ := net.SplitHostPort(s.addr())
		p := newTunnelProxy(t, "http", func(p *tunnelProxy) {
			p.aliases = map[string]string{net.JoinHostPort(name, port): s.addr()}
		})
		cfg := testConfig(s)
		cfg.Addr = net.JoinHostPort(name, port)
		env := tc.env
		env.HTTPProxy = strings.Replace(env.HTTPProxy, "PROXY", p.url("http"), 1)
		env.HTTPSProxy = strings.Replace(env.HTTPSProxy, "PROXY", p.url("http"), 1)
		choose := env.ProxyFunc()

		c, _ := newTestClient(t, cfg)
		dialer := newProxyDialer(cfg.proxySettings(), c.url, nil, cfg.Timeout)
		dialer.choose = func(r *http.Request) (*url.URL, error) { return choose(r.URL) }
		c.dialer.NetDialContext = dialer.DialContext
		err := c.Connect()
		if tc.proxied {
			if err != nil {
				t.Fatalf("%+v: %v", tc.env, err)
			}
			if got := p.target(); got != cfg.Addr {
				t.Fatalf("%+v: tunnelled to %s, want %s", tc.env, got, cfg.Addr)
			}
			continue
		}
		if err == nil { // the name resolves only through the proxy
			t.Fatalf("%+v: connected without the proxy to %s", tc.env, name)
		}
		select {
		case r := <-p.requests:
			t.Fatalf("%+v: the proxy got CONNECT %s", tc.env, r.Host)
		default:
		}
	}
}

func TestConnect_MalformedEnvironmentProxyIsNotShown(t *testing.T) {
	s := newTestServer(t, nil)
	cfg := testConfig(s)
	cfg.Addr = "logs.internal.test:80" // not loopback, so that the environment applies
	for _, proxy := range []string{
		"http://alice:Sup3r%zzSecret@proxy.example:3128", // does not parse
		"http://alice:31337/Secret@proxy.example:3128",   // parses, with the password's digits as a port
	} {
		env := httpproxy.Config{HTTPProxy: proxy}
		choose := env.ProxyFunc()
		c, _ := newTestClient(t, cfg)
		dialer := newProxyDialer(cfg.proxySettings(), c.url, nil, cfg.Timeout)
		dialer.choose = func(r *http.Request) (*url.URL, error) { return choose(r.URL) }
		c.dialer.NetDialContext = dialer.DialContext
		err := c.Connect()
		if err == nil {
			t.Fatalf("%s: connected", proxy)
		}
		for _, secret := range []string{"alice", "Sup3r", "Secret", "31337"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: the error %q shows %q", proxy, err, secret)
			}
		}
	}
}
