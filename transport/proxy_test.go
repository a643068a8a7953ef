package transport

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http/httpproxy"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

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
		s := wstest.New(t, nil)
		_, port, _ := net.SplitHostPort(s.Addr())
		p := wstest.NewProxy(t, "http", func(p *wstest.Proxy) {
			p.Aliases = map[string]string{net.JoinHostPort(name, port): s.Addr()}
		})
		cfg := testOptions(s)
		cfg.URL.Host = net.JoinHostPort(name, port)
		env := tc.env
		env.HTTPProxy = strings.Replace(env.HTTPProxy, "PROXY", p.URL("http"), 1)
		env.HTTPSProxy = strings.Replace(env.HTTPSProxy, "PROXY", p.URL("http"), 1)
		choose := env.ProxyFunc()
		cfg.Proxy = func(r *http.Request) (*url.URL, error) { return choose(r.URL) }

		c, _ := newTestClient(t, cfg)
		err := c.Connect()
		if tc.proxied {
			if err != nil {
				t.Fatalf("%+v: %v", tc.env, err)
			}
			if got := p.Target(); got != cfg.URL.Host {
				t.Fatalf("%+v: tunnelled to %s, want %s", tc.env, got, cfg.URL.Host)
			}
			continue
		}
		if err == nil { // the name resolves only through the proxy
			t.Fatalf("%+v: connected without the proxy to %s", tc.env, name)
		}
		select {
		case r := <-p.Requests:
			t.Fatalf("%+v: the proxy got CONNECT %s", tc.env, r.Host)
		default:
		}
	}
}

func TestConnect_MalformedEnvironmentProxyIsNotShown(t *testing.T) {
	s := wstest.New(t, nil)
	cfg := testOptions(s)
	cfg.URL.Host = "logs.internal.test:80" // not loopback, so that the environment applies
	for _, proxy := range []string{
		"http://alice:Sup3r%zzSecret@proxy.example:3128", // does not parse
		"http://alice:31337/Secret@proxy.example:3128",   // parses, with the password's digits as a port
	} {
		env := httpproxy.Config{HTTPProxy: proxy}
		choose := env.ProxyFunc()
		cfg.Proxy = func(r *http.Request) (*url.URL, error) { return choose(r.URL) }
		c, _ := newTestClient(t, cfg)
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

func TestConnect_CloseCutsShortAProxyThatNeverAnswers(t *testing.T) {
	for _, kind := range []string{"http", "https"} {
		t.Run(kind, func(t *testing.T) {
			s := wstest.New(t, nil)
			p := wstest.NewProxy(t, kind, func(p *wstest.Proxy) { p.Silent = true })
			cfg := testOptions(s)
			via, _ := url.Parse(p.URL(kind))
			cfg.Proxy = http.ProxyURL(via)
			// The proxy's certificate is httptest's.
			cfg.ProxyTLS = func(string) *tls.Config { return &tls.Config{InsecureSkipVerify: true} }
			cfg.Timeout = time.Minute // Close, not the timeout, must end it
			c, _ := newTestClient(t, cfg)
			connected := make(chan error, 1)
			go func() { connected <- c.Connect() }()
			p.Request()
			start := time.Now()
			c.Close()
			connectEndsAfterClose(t, connected, start, "the proxy")
		})
	}
}
