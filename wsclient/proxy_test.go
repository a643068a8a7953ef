package wsclient

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/elastic/beats/v7/libbeat/outputs/outest"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

// proxied returns cfg with proxy_url set to u.
func proxied(cfg config, u string) config {
	cfg.ProxyURL = u
	return cfg
}

func TestConnect_ThroughEveryKindOfProxy(t *testing.T) {
	for _, kind := range []string{"http", "https", "socks5"} {
		t.Run(kind, func(t *testing.T) {
			s := wstest.New(t, nil)
			p := wstest.NewProxy(t, kind, nil)
			cfg := proxied(testConfig(s), p.URL(kind))
			if kind == "https" {
				cfg.TLS = tlsVerificationNone() // the proxy's certificate is httptest's
			}
			c, _ := newTestClient(t, cfg)
			mustConnect(t, c)
			if got := p.Target(); got != s.Addr() {
				t.Fatalf("the proxy tunnelled to %s, want the server %s", got, s.Addr())
			}
			if err := c.Publish(context.Background(), batchOf(3)); err != nil {
				t.Fatal(err)
			}
			if got := s.Receive(3); messageOf(t, got[2]) != "event 2" {
				t.Fatalf("through the proxy: %q", got)
			}
		})
	}
}

func TestConnect_SendsProxyCredentialsAndHeadersWithCONNECT(t *testing.T) {
	s := wstest.New(t, nil)
	p := wstest.NewProxy(t, "http", nil)
	cfg := proxied(testConfig(s), "http://proxyuser:proxypass@"+p.Addr())
	cfg.ProxyHeaders = map[string]string{"X-Proxy-Tenant": "blue"}
	c, _ := newTestClient(t, cfg)
	mustConnect(t, c)
	r := p.Request()
	user, pass, ok := (&http.Request{Header: http.Header{"Authorization": r.Header["Proxy-Authorization"]}}).BasicAuth()
	if !ok || user != "proxyuser" || pass != "proxypass" || r.Header.Get("X-Proxy-Tenant") != "blue" || r.Host != s.Addr() {
		t.Fatalf("CONNECT %s with headers %v", r.Host, r.Header)
	}
}

func TestConnect_ProxyRefusalNamesTheProxyWithoutItsPassword(t *testing.T) {
	s := wstest.New(t, nil)
	p := wstest.NewProxy(t, "http", func(p *wstest.Proxy) { p.Refuse = http.StatusProxyAuthRequired })
	c, _ := newTestClient(t, proxied(testConfig(s), "http://proxyuser:proxypass@"+p.Addr()))
	err := connect(c)
	if err == nil || !strings.Contains(err.Error(), "407") || !strings.Contains(err.Error(), p.Addr()) {
		t.Fatalf("connect through a refusing proxy: %v", err)
	}
	if strings.Contains(err.Error(), "proxypass") {
		t.Fatalf("the error shows the proxy's password: %v", err)
	}
}

func TestConnect_ProxyDisableConnectsDirectly(t *testing.T) {
	s := wstest.New(t, nil)
	p := wstest.NewProxy(t, "http", nil)
	cfg := proxied(testConfig(s), p.URL("http"))
	cfg.ProxyDisable = true
	c, _ := newTestClient(t, cfg)
	mustConnect(t, c)
	select {
	case r := <-p.Requests:
		t.Fatalf("proxy_disable: the proxy got CONNECT %s", r.Host)
	default:
	}
	if err := c.Publish(context.Background(), outest.NewBatch(logEvent("direct"))); err != nil {
		t.Fatal(err)
	}
	s.Receive(1)
}

// The environment's proxy variables, as Go reads them: HTTP_PROXY for
// ws://, HTTPS_PROXY for wss://, NO_PROXY to bypass. Go's own reading is
// cached per process and never proxies loopback addresses, so the test
// gives the dialer a chooser from the same rules and a server name that
// only the proxy resolves.
