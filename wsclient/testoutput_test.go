package wsclient

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

// testOutput does what `filebeat test output` does with the output the
// settings load: Test on every client in turn, with libbeat's console
// driver. It returns what the driver printed, without colours, and how
// often it would have exited the process (Fatal).
func testOutput(t *testing.T, settings map[string]interface{}) (string, int) {
	t.Helper()
	group, err := load(t, settings)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	exits := 0
	d := newConsoleDriverWithKiller(&out, func() { exits++ })
	for _, c := range group.Clients {
		tc, ok := c.(beatTestable)
		if !ok {
			t.Fatalf("client %s is not a testing.Testable: the command would say the output does not support testing", c)
		}
		tc.Test(d)
	}
	return colours.ReplaceAllString(out.String(), ""), exits
}

var colours = regexp.MustCompile("\x1b\\[[0-9;]*m")

// wantLines checks that out has lines starting with each of want, in that
// order (other lines may come between).
func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	i := 0
	for _, w := range want {
		for i < len(lines) && !strings.HasPrefix(lines[i], w) {
			i++
		}
		if i == len(lines) {
			t.Fatalf("no line starting with %q (after the ones before it) in:\n%s", w, out)
		}
		i++
	}
}

// passes checks that the command would exit cleanly; fails that it would
// exit with an error, exactly once.
func passes(t *testing.T, out string, exits int) {
	t.Helper()
	if exits != 0 {
		t.Fatalf("the test failed (%d exits), want it to pass:\n%s", exits, out)
	}
}

func fails(t *testing.T, out string, exits int) {
	t.Helper()
	if exits != 1 {
		t.Fatalf("the test exited %d times, want once, with an error:\n%s", exits, out)
	}
}

func TestTestOutput_WorkingServerPassesEveryCheck(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Ack, s.Compress = true, true })
	out, exits := testOutput(t, map[string]interface{}{
		"addr": s.Addr(), "path": "/ws", "ack.enabled": true, "compression": true,
	})
	passes(t, out, exits)
	wantLines(t, out,
		"websocket: ws://"+s.Addr()+"/ws...",
		"  parse url... OK",
		"  connection...",
		"    dns lookup... OK",
		"    addresses: 127.0.0.1",
		"    dial up... OK",
		"  TLS... WARN secure connection disabled",
		"  WebSocket...",
		"    handshake... OK",
		"    HTTP status: 101 Switching Protocols",
		"    subprotocol beats-ack.v1... OK",
		"    compression... OK",
		"    ping... OK",
		"    round trip: ",
	)
	if strings.Contains(out, "ERROR") || strings.Contains(out, "proxy") {
		t.Fatalf("an error, or a proxy where none applies:\n%s", out)
	}
	if n := s.Pings.Load(); n != 1 {
		t.Fatalf("the server got %d pings, want the test's one", n)
	}
	if err := s.End(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("the test ended its connection with %v, want a normal close", err)
	}
}

func TestTestOutput_TestsEachHostOnceWithOrWithoutLoadBalance(t *testing.T) {
	for _, loadbalance := range []bool{true, false} {
		t.Run(fmt.Sprint("loadbalance=", loadbalance), func(t *testing.T) {
			a, b := wstest.New(t, nil), wstest.New(t, nil)
			urls := []string{"ws://" + a.Addr() + "/a", "ws://" + b.Addr() + "/b"}
			out, exits := testOutput(t, map[string]interface{}{"hosts": urls, "workers": 3, "loadbalance": loadbalance})
			passes(t, out, exits)
			wantLines(t, out, "websocket: "+urls[0]+"...", "    ping... OK", "websocket: "+urls[1]+"...", "    ping... OK")
			for i, s := range []*wstest.Server{a, b} {
				if n := strings.Count(out, "websocket: "+urls[i]+"..."); n != 1 {
					t.Errorf("%s tested %d times, want once:\n%s", urls[i], n, out)
				}
				if n := s.Handshakes(); n != 1 {
					t.Errorf("%s got %d handshakes, want one", urls[i], n)
				}
			}
		})
	}
}

func TestTestOutput_WSSShowsTheVerificationModeAndTheServerCertificate(t *testing.T) {
	for mode, want := range map[string]string{"": "full", "full": "full", "strict": "strict", "certificate": "certificate"} {
		t.Run("verification_mode="+mode, func(t *testing.T) {
			s := wstest.New(t, func(s *wstest.Server) { s.TLS = true })
			settings := map[string]interface{}{
				"addr": s.Addr(), "path": "/ws", "schema": "wss", "ssl.certificate_authorities": []string{s.CertPEM()},
			}
			if mode != "" {
				settings["ssl.verification_mode"] = mode
			}
			out, exits := testOutput(t, settings)
			passes(t, out, exits)
			cert := s.Certificate()
			wantLines(t, out,
				"  TLS...",
				"    verification mode: "+want,
				"    handshake... OK",
				"    TLS version: TLSv1.3",
				"    server certificate: "+cert.Subject.String(),
				"    issuer: "+cert.Issuer.String(),
				"    expires: "+cert.NotAfter.UTC().Format("2006-01-02T15:04:05Z")+" (in ",
				"  WebSocket...",
				"    ping... OK",
			)
		})
	}
}

func TestTestOutput_WSSWithoutTheCAFailsAtTheTLSHandshakeWithAHint(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.TLS = true })
	out, exits := testOutput(t, map[string]interface{}{"addr": s.Addr(), "path": "/ws", "schema": "wss"})
	fails(t, out, exits)
	wantLines(t, out,
		"  TLS...",
		"    verification mode: full",
		"    handshake... ERROR x509: certificate signed by unknown authority (set ssl.certificate_authorities",
		// Who the server says it is, to compare with the CA.
		"    server certificate: "+s.Certificate().Subject.String(),
		"websocket output... ERROR ws",
	)
	if strings.Contains(out, "WebSocket...") {
		t.Fatalf("the test went on after the TLS handshake failed:\n%s", out)
	}
}

func TestTestOutput_VerificationModeNoneIsAWarning(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.TLS = true })
	out, exits := testOutput(t, map[string]interface{}{
		"addr": s.Addr(), "path": "/ws", "schema": "wss", "ssl.verification_mode": "none",
	})
	passes(t, out, exits)
	wantLines(t, out, "    verification mode... WARN none: the server's certificate is not checked", "    handshake... OK", "    ping... OK")
}

func TestTestOutput_RefusedHandshakeGivesTheStatusAndHintButNoCredential(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Refuse = http.StatusUnauthorized })
	url := "ws://" + s.Addr() + "/ws?access_token=s3cret-query"
	out, exits := testOutput(t, map[string]interface{}{
		"hosts":    []string{url},
		"headers":  map[string]interface{}{"X-Api-Key": "s3cret-header"},
		"username": "alice", "password": "s3cret-password",
	})
	fails(t, out, exits)
	wantLines(t, out,
		"websocket: ws://"+s.Addr()+"/ws?access_token=xxxxx...",
		"    dial up... OK",
		"    handshake... ERROR HTTP 401 Unauthorized (check the credentials",
		"websocket output... ERROR ws://"+s.Addr()+"/ws?access_token=xxxxx failed",
	)
	if strings.Contains(out, "s3cret") {
		t.Fatalf("the test shows a credential:\n%s", out)
	}
	// It sent the credentials the clients send.
	r := s.Handshake()
	if user, pass, _ := r.BasicAuth(); r.Header.Get("X-Api-Key") != "s3cret-header" || user != "alice" || pass != "s3cret-password" {
		t.Fatalf("the handshake's credentials: %v", r.Header)
	}
}

func TestTestOutput_NothingListeningFailsAtTheDialAndTheOtherHostsAreStillTested(t *testing.T) {
	down, live := wstest.New(t, nil), wstest.New(t, nil)
	down.Stop() // its port refuses connections
	downURL, liveURL := "ws://"+down.Addr()+"/ws", "ws://"+live.Addr()+"/ws"
	out, exits := testOutput(t, map[string]interface{}{"hosts": []string{downURL, liveURL}, "loadbalance": true})
	fails(t, out, exits)
	wantLines(t, out,
		"websocket: "+downURL+"...",
		"    dial up... ERROR dial tcp "+down.Addr()+": connect: connection refused",
		"websocket: "+liveURL+"...",
		"    ping... OK",
		"websocket output... ERROR 1 of 2 hosts failed: "+downURL,
	)
}

func TestTestOutput_UnresolvableHostFailsAtTheDNSLookup(t *testing.T) {
	// .invalid never resolves (RFC 6761).
	out, exits := testOutput(t, map[string]interface{}{"hosts": []string{"ws://logs.example.invalid/ws"}, "timeout": "5s"})
	fails(t, out, exits)
	wantLines(t, out, "  connection...", "    dns lookup... ERROR ", "websocket output... ERROR ws://logs.example.invalid/ws failed")
	if strings.Contains(out, "dial up") {
		t.Fatalf("the test dialed an unresolved host:\n%s", out)
	}
}

func TestTestOutput_ServerThatDoesNotSelectTheAckSubprotocolFails(t *testing.T) {
	s := wstest.New(t, nil) // no ack
	out, exits := testOutput(t, map[string]interface{}{"addr": s.Addr(), "path": "/ws", "ack.enabled": true})
	fails(t, out, exits)
	wantLines(t, out,
		"    handshake... OK",
		"    subprotocol beats-ack.v1... ERROR the server did not select it",
		"websocket output... ERROR ",
	)
	if strings.Contains(out, "ping") {
		t.Fatalf("the test went on with a server the output would refuse:\n%s", out)
	}
	if err := s.End(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("the test ended its connection with %v, want a normal close", err)
	}
}

func TestTestOutput_DeclinedCompressionIsAWarning(t *testing.T) {
	s := wstest.New(t, nil) // no permessage-deflate
	out, exits := testOutput(t, map[string]interface{}{"addr": s.Addr(), "path": "/ws", "compression": true})
	passes(t, out, exits)
	wantLines(t, out, "    compression... WARN the server declined permessage-deflate", "    ping... OK")
}

func TestTestOutput_UnansweredPingFailsUnlessPingsAreOff(t *testing.T) {
	for _, tc := range []struct {
		interval string
		want     string
		failed   bool
	}{
		{"30s", "    ping... ERROR no pong within ping_timeout (300ms)", true},
		{"0s", "    ping... WARN no pong within ping_timeout (300ms): the output would declare the connection dead; pings are off", false},
	} {
		t.Run("ping_interval="+tc.interval, func(t *testing.T) {
			s := wstest.New(t, func(s *wstest.Server) { s.IgnorePing = true })
			out, exits := testOutput(t, map[string]interface{}{
				"addr": s.Addr(), "path": "/ws", "ping_timeout": "300ms", "ping_interval": tc.interval,
			})
			if tc.failed {
				fails(t, out, exits)
			} else {
				passes(t, out, exits)
			}
			wantLines(t, out, "    handshake... OK", tc.want)
		})
	}
}

func TestTestOutput_ThroughAProxyNamesItWithoutCredentials(t *testing.T) {
	const name = "logs.example.invalid" // only the proxy resolves it
	s := wstest.New(t, nil)
	_, port, _ := net.SplitHostPort(s.Addr())
	server := net.JoinHostPort(name, port)
	url := "ws://" + server + "/ws"

	t.Run("tunnelled", func(t *testing.T) {
		p := wstest.NewProxy(t, "http", func(p *wstest.Proxy) { p.Aliases = map[string]string{server: s.Addr()} })
		out, exits := testOutput(t, map[string]interface{}{
			"hosts": []string{url}, "proxy_url": "http://proxyuser:s3cret@" + p.Addr(),
		})
		passes(t, out, exits)
		wantLines(t, out,
			"  connection...",
			"    proxy: http://"+p.Addr(),
			"    dns lookup of the proxy... OK",
			"    addresses: 127.0.0.1",
			"    dial up through the proxy... OK",
			"    ping... OK",
		)
		if strings.Contains(out, "s3cret") || strings.Contains(out, "proxyuser") {
			t.Fatalf("the test shows the proxy's credentials:\n%s", out)
		}
		if got := p.Target(); got != server {
			t.Fatalf("the proxy tunnelled to %s, want %s", got, server)
		}
	})
	t.Run("refused", func(t *testing.T) {
		p := wstest.NewProxy(t, "http", func(p *wstest.Proxy) { p.Refuse = http.StatusProxyAuthRequired })
		out, exits := testOutput(t, map[string]interface{}{
			"hosts": []string{url}, "proxy_url": "http://proxyuser:s3cret@" + p.Addr(),
		})
		fails(t, out, exits)
		wantLines(t, out, "    dial up through the proxy... ERROR through proxy http://"+p.Addr()+": CONNECT "+server+" refused: HTTP 407")
		if strings.Contains(out, "s3cret") {
			t.Fatalf("the test shows the proxy's password:\n%s", out)
		}
	})
}
