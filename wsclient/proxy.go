package wsclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/proxy"

	"github.com/elastic/beats/v7/libbeat/common/transport/httpcommon"
	"github.com/elastic/beats/v7/libbeat/common/transport/tlscommon"
)

// proxyDialer opens the TCP connection to one server, through the proxy
// that Filebeat's proxy settings choose for its URL: none, an HTTP or
// HTTPS proxy (a CONNECT tunnel) or a SOCKS5 proxy. gorilla's own proxy
// support has no HTTPS proxies and no proxy_headers, hence this.
type proxyDialer struct {
	choose  func(*http.Request) (*url.URL, error) // nil: proxy_disable
	target  *http.Request                         // what choose is asked about: the server's URL
	headers http.Header                           // proxy_headers, sent with CONNECT
	tls     *tlscommon.TLSConfig                  // ssl.*, also for an https proxy
	direct  net.Dialer
}

func newProxyDialer(settings httpcommon.HTTPClientProxySettings, server *url.URL, tlsConfig *tlscommon.TLSConfig) *proxyDialer {
	// Proxy selection goes by the http(s) URL the handshake requests, as
	// for any HTTP client: HTTPS_PROXY for wss, HTTP_PROXY for ws.
	target := *server
	target.Scheme = map[string]string{"ws": "http", "wss": "https"}[server.Scheme]
	return &proxyDialer{
		choose:  settings.ProxyFunc(),
		target:  &http.Request{URL: &target, Host: target.Host},
		headers: settings.Headers.Headers(),
		tls:     tlsConfig,
	}
}

// DialContext connects to addr, the server's host:port, directly or
// through the proxy. Errors name the proxy without its credentials.
func (p *proxyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var via *url.URL
	if p.choose != nil {
		var err error
		if via, err = p.choose(p.target); err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
	}
	if via == nil {
		return p.direct.DialContext(ctx, network, addr)
	}
	switch via.Scheme {
	case "http", "https":
		return p.connect(ctx, via, addr)
	case "socks5", "socks5h":
		d, err := proxy.FromURL(via, &p.direct)
		if err != nil {
			return nil, fmt.Errorf("proxy %s: %w", via.Redacted(), err)
		}
		conn, err := d.(proxy.ContextDialer).DialContext(ctx, network, addr)
		if err != nil {
			return nil, fmt.Errorf("through proxy %s: %w", via.Redacted(), err)
		}
		return conn, nil
	default:
		return nil, fmt.Errorf("proxy %s: scheme %q is not supported, use http, https or socks5", via.Redacted(), via.Scheme)
	}
}

// connect opens a tunnel to addr through an HTTP or HTTPS proxy with
// CONNECT. ctx bounds the whole exchange.
func (p *proxyDialer) connect(ctx context.Context, via *url.URL, addr string) (net.Conn, error) {
	fail := func(format string, args ...interface{}) error {
		return fmt.Errorf("through proxy %s: %s", via.Redacted(), fmt.Sprintf(format, args...))
	}
	proxyAddr := via.Host
	if via.Port() == "" {
		proxyAddr = net.JoinHostPort(via.Hostname(), map[string]string{"http": "80", "https": "443"}[via.Scheme])
	}
	conn, err := p.direct.DialContext(ctx, "tcp", proxyAddr)
	if err != nil {
		return nil, fail("%v", err)
	}
	// Cancelling ctx, or its deadline, interrupts the exchange below.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}

	if via.Scheme == "https" {
		tc := tls.Client(conn, p.tls.BuildModuleClientConfig(via.Hostname()))
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
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
		req.Header.Set("Proxy-Authorization", "Basic "+basicAuth(u.Username(), password))
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, fail("CONNECT %s: %v", addr, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, fail("CONNECT %s: %v", addr, err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode != http.StatusOK:
		conn.Close()
		return nil, fail("CONNECT %s refused: HTTP %s", addr, resp.Status)
	case br.Buffered() > 0:
		// The server speaks only after the handshake request: whatever
		// came with the answer is not from the server.
		conn.Close()
		return nil, fail("CONNECT %s: the proxy sent %d unexpected bytes after its answer", addr, br.Buffered())
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		conn.Close()
		return nil, fail("%v", err)
	}
	if !stop() { // ctx ended just now, and its deadline may be set
		conn.Close()
		return nil, fail("%v", ctx.Err())
	}
	return conn, nil
}
