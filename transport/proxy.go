package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/proxy"
)

// proxyDialer opens the TCP connection to one server, through the proxy
// that Options.Proxy chooses for its URL: none, an HTTP or HTTPS proxy (a
// CONNECT tunnel) or a SOCKS5 proxy. gorilla's own proxy support has no
// HTTPS proxies and no proxy headers, hence this. Safe for concurrent use:
// the clients of one host share it.
type proxyDialer struct {
	choose   func(*http.Request) (*url.URL, error) // nil: direct
	target   *http.Request                         // what choose is asked about: the server's URL
	headers  http.Header                           // sent with CONNECT
	proxyTLS func(host string) *tls.Config         // for an https proxy
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	stall    time.Duration // a write that takes no bytes for this long fails (stallConn)

	mu        sync.Mutex
	tlsByHost map[string]*tls.Config // by https proxy host, built once: building one may log a warning
}

func newProxyDialer(o *Options) *proxyDialer {
	// Proxy selection goes by the http(s) URL the handshake requests, as
	// for any HTTP client: HTTPS_PROXY for wss, HTTP_PROXY for ws.
	target := *o.URL
	target.Scheme = map[string]string{"ws": "http", "wss": "https"}[o.URL.Scheme]
	dial := o.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	return &proxyDialer{
		choose:    o.Proxy,
		target:    &http.Request{URL: &target, Host: target.Host},
		headers:   o.ProxyHeader,
		proxyTLS:  o.ProxyTLS,
		dial:      dial,
		stall:     o.Timeout,
		tlsByHost: map[string]*tls.Config{},
	}
}

// proxyName names a proxy in errors: its scheme and host only.
func proxyName(via *url.URL) string {
	return via.Scheme + "://" + via.Host
}

// errEnvProxy is why a proxy from the environment is not used. Its value is
// not shown: it may hold a password.
var errEnvProxy = errors.New("the proxy from the environment (HTTPS_PROXY or HTTP_PROXY) is not a valid URL (not shown, as it may hold a password; a '#', '/', '?' or '%' in its password must be percent-encoded)")

// malformed says whether a proxy URL parsed otherwise than meant: a '#',
// '/' or '?' in a password ends the URL's authority before the '@', so that
// the host is the user name and part of the password
// ("http://user:1234/ss@proxy" has the host "user:1234"). proxy_url is
// checked at start; the environment's only here.
func malformed(via *url.URL) bool {
	_, err := strconv.Atoi(via.Port())
	return via.Port() != "" && err != nil || strings.Contains(via.Path+via.RawQuery+via.Fragment+via.Opaque, "@")
}

// via is the proxy the connection to the server goes through, nil for a
// direct connection. It may hold credentials: name it with proxyName. A
// proxy from the environment that is not a valid URL, or whose credentials
// do not parse as meant, is refused without being shown.
func (p *proxyDialer) via() (*url.URL, error) {
	if p.choose == nil {
		return nil, nil
	}
	via, err := p.choose(p.target)
	if err != nil || via != nil && malformed(via) {
		// The error quotes the variable's value, which may hold a
		// password.
		return nil, errEnvProxy
	}
	return via, nil
}

// DialContext connects to addr, the server's host:port, directly or
// through the proxy.
func (p *proxyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	via, err := p.via()
	if err != nil {
		return nil, err
	}
	if via == nil {
		return p.DialTCP(ctx, network, addr)
	}
	switch via.Scheme {
	case "http", "https":
		return p.connect(ctx, via, addr)
	case "socks5", "socks5h":
		d, err := proxy.FromURL(via, tcpDialer{p})
		if err != nil {
			return nil, fmt.Errorf("proxy %s: %w", proxyName(via), err)
		}
		conn, err := d.(proxy.ContextDialer).DialContext(ctx, network, addr)
		if err != nil {
			return nil, fmt.Errorf("through proxy %s: %w", proxyName(via), err)
		}
		return conn, nil
	default:
		return nil, fmt.Errorf("proxy %s: scheme %q is not supported, use http, https or socks5", proxyName(via), via.Scheme)
	}
}

// DialTCP opens a TCP connection whose writes fail only after the stall
// timeout without progress (stallConn). Every connection starts here, so
// that TLS, to the server or to an https proxy, runs over a stallConn.
func (p *proxyDialer) DialTCP(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := p.dial(ctx, network, addr)
	if err != nil || p.stall <= 0 {
		return conn, err
	}
	return newStallConn(conn, p.stall), nil
}

// tcpDialer is DialTCP as the dialer a SOCKS proxy connection is made with.
type tcpDialer struct{ p *proxyDialer }

func (d tcpDialer) Dial(network, addr string) (net.Conn, error) {
	return d.p.DialTCP(context.Background(), network, addr)
}

func (d tcpDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.p.DialTCP(ctx, network, addr)
}

// connect opens a tunnel to addr through an HTTP or HTTPS proxy with
// CONNECT. ctx bounds the whole exchange.
func (p *proxyDialer) connect(ctx context.Context, via *url.URL, addr string) (net.Conn, error) {
	fail := func(format string, args ...interface{}) error {
		return fmt.Errorf("through proxy %s: %s", proxyName(via), fmt.Sprintf(format, args...))
	}
	proxyAddr := via.Host
	if via.Port() == "" {
		proxyAddr = net.JoinHostPort(via.Hostname(), map[string]string{"http": "80", "https": "443"}[via.Scheme])
	}
	raw, err := p.DialTCP(ctx, "tcp", proxyAddr)
	if err != nil {
		return nil, fail("%v", err)
	}
	// ctx's deadline bounds the exchange below, and cancelling ctx cuts it
	// short: the deadline first, so that a cancellation is not overwritten.
	if deadline, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	conn := raw
	if via.Scheme == "https" {
		tc := tls.Client(raw, p.tlsFor(via.Hostname()))
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fail("TLS: %v", err)
		}
		conn = tc
	}

	req := &http.Request{
		Method: http.MethodConnect,
		URL:    &url.URL{Opaque: addr},
		Host:   addr,
		Header: p.headers.Clone(),
	}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if u := via.User; u != nil {
		password, _ := u.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+BasicAuth(u.Username(), password))
	}
	if err := req.Write(conn); err != nil {
		raw.Close()
		return nil, fail("CONNECT %s: %v", addr, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		raw.Close()
		return nil, fail("CONNECT %s: %v", addr, err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode != http.StatusOK:
		raw.Close()
		return nil, fail("CONNECT %s refused: HTTP %s", addr, resp.Status)
	case br.Buffered() > 0:
		// The server speaks only after the handshake request: whatever
		// came with the answer is not from the server.
		raw.Close()
		return nil, fail("CONNECT %s: the proxy sent %d unexpected bytes after its answer", addr, br.Buffered())
	}
	if !stop() { // ctx ended meanwhile, and may have set the deadline
		raw.Close()
		return nil, fail("%v", ctx.Err())
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		raw.Close()
		return nil, fail("%v", err)
	}
	return conn, nil
}

// tlsFor is the TLS configuration for an https proxy, built once per proxy
// host; Go's defaults (the system's roots) without Options.ProxyTLS.
func (p *proxyDialer) tlsFor(host string) *tls.Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	cfg, ok := p.tlsByHost[host]
	if !ok {
		cfg = &tls.Config{ServerName: host}
		if p.proxyTLS != nil {
			cfg = p.proxyTLS(host)
		}
		p.tlsByHost[host] = cfg
	}
	return cfg
}
