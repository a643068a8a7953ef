package wsclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/elastic/beats/v7/libbeat/common/transport/tlscommon"
	"github.com/elastic/beats/v7/libbeat/outputs"
	"github.com/elastic/beats/v7/libbeat/testing"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// `filebeat test output`: libbeat calls Test (testing.Testable) on each of
// the output's clients in turn, with a driver that prints a checklist and
// exits the process on Fatal. The clients of one output share an
// outputTest, so the first call tests every host once and the others do
// nothing: a host is tested once, not once per worker, with loadbalance
// or without.

// testable is one of the output's clients, with the output's test.
type testable struct {
	outputs.NetworkClient
	test *outputTest
}

// Test runs `filebeat test output` for the whole output on its first call
// and does nothing on later ones. A failed check makes it call d.Fatal once
// every host is tested. Called by the test command only, from one goroutine.
func (c testable) Test(d testing.Driver) {
	c.test.once.Do(func() { c.test.run(d) })
}

// outputTest checks each host the way the clients connect to it: the same
// endpoints (dialer, proxy, TLS settings, handshake headers), so that what
// passes here is what the output will do.
type outputTest struct {
	once        sync.Once
	endpoints   []*endpoint
	tls         *tlscommon.TLSConfig // nil: the system's roots, full verification
	timeout     time.Duration        // bounds the DNS lookup; the dialer has its own
	ack         bool
	compression bool
	pingTimeout time.Duration
	pingsOff    bool // ping_interval: 0: a missing pong is not a failure
}

func newOutputTest(cfg config, endpoints []*endpoint, tlsConfig *tlscommon.TLSConfig) *outputTest {
	return &outputTest{
		endpoints:   endpoints,
		tls:         tlsConfig,
		timeout:     cfg.Timeout,
		ack:         cfg.Ack.Enabled,
		compression: cfg.Compression,
		pingTimeout: cfg.PingTimeout,
		pingsOff:    cfg.PingInterval == 0,
	}
}

// withTest makes each of clients testable with the output's test.
func withTest(clients []outputs.NetworkClient, test *outputTest) []outputs.NetworkClient {
	out := make([]outputs.NetworkClient, len(clients))
	for i, c := range clients {
		out[i] = testable{NetworkClient: c, test: test}
	}
	return out
}

// run tests every host, even after one fails, then fails the command if
// any did.
func (t *outputTest) run(d testing.Driver) {
	var failed []string
	for _, ep := range t.endpoints {
		if !group(d, "websocket: "+display(ep.url), func(d testing.Driver) bool { return t.host(d, ep) }) {
			failed = append(failed, display(ep.url))
		}
	}
	switch {
	case len(failed) == 1 && len(t.endpoints) == 1:
		d.Fatal("websocket output", fmt.Errorf("%s failed", failed[0]))
	case len(failed) > 0:
		d.Fatal("websocket output", fmt.Errorf("%d of %d hosts failed: %s", len(failed), len(t.endpoints), strings.Join(failed, ", ")))
	}
}

// group runs checks as one named group of the checklist and says whether
// they passed.
func group(d testing.Driver, name string, checks func(testing.Driver) bool) bool {
	ok := false
	d.Run(name, func(d testing.Driver) { ok = checks(d) })
	return ok
}

// check reports one check and says whether it passed.
func check(d testing.Driver, field string, err error) bool {
	d.Error(field, err)
	return err == nil
}

// host checks one host, step by step, until a step fails.
func (t *outputTest) host(d testing.Driver, ep *endpoint) bool {
	if _, err := parseURL(ep.url.String()); !check(d, "parse url", err) {
		return false
	}
	var h *handshake
	if !group(d, "connection", func(d testing.Driver) bool {
		dial, ok := t.lookup(d, ep)
		if !ok {
			return false
		}
		h = t.handshake(ep)
		return check(d, dial, h.dialError())
	}) {
		return false
	}
	defer h.close()
	if ep.url.Scheme != "wss" {
		d.Warn("TLS", "secure connection disabled (ws://): use wss:// to encrypt")
	} else if !group(d, "TLS", func(d testing.Driver) bool { return t.checkTLS(d, h) }) {
		return false
	}
	return group(d, "WebSocket", func(d testing.Driver) bool { return t.checkWebSocket(d, h) })
}

// lookup resolves the host the connection goes to: the server's, or the
// proxy's when one applies (which then resolves the server's name itself).
// It returns the name of the dial's check, which says whether the dial goes
// through the proxy, and whether the lookup succeeded.
func (t *outputTest) lookup(d testing.Driver, ep *endpoint) (dial string, ok bool) {
	via, err := ep.proxy.via()
	if err != nil {
		return "", check(d, "proxy", err)
	}
	host, lookup, dial := ep.url.Hostname(), "dns lookup", "dial up"
	if via != nil {
		d.Info("proxy", proxyName(via))
		host, lookup, dial = via.Hostname(), "dns lookup of the proxy", "dial up through the proxy"
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if !check(d, lookup, err) {
		return "", false
	}
	d.Info("addresses", strings.Join(addrs, ", "))
	return dial, true
}

// handshake is what one connection to a host showed, step by step.
type handshake struct {
	dialed   bool
	dialErr  error
	tlsDone  bool
	tlsState tls.ConnectionState
	tlsErr   error
	ws       *websocket.Conn
	resp     *http.Response
	err      error
}

// handshake connects to the host with the clients' dialer, recording the
// TCP connection (through the proxy, if any) and the TLS handshake on the
// way. The dialer's timeout bounds it.
func (t *outputTest) handshake(ep *endpoint) *handshake {
	h := &handshake{}
	dialer := *ep.dialer
	dialer.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := ep.dialer.NetDialContext(ctx, network, addr)
		h.dialed, h.dialErr = true, err
		return conn, err
	}
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		TLSHandshakeDone: func(state tls.ConnectionState, err error) {
			h.tlsDone, h.tlsState, h.tlsErr = true, state, err
		},
	})
	h.ws, h.resp, h.err = dialer.DialContext(ctx, ep.url.String(), ep.header)
	return h
}

// dialError is why the TCP connection failed, with what to check; nil if
// it was made.
func (h *handshake) dialError() error {
	switch {
	case h.dialed && h.dialErr != nil:
		return fmt.Errorf("%w%s", h.dialErr, dialHint(h.dialErr))
	case !h.dialed && h.err != nil:
		return h.err
	}
	return nil
}

// close ends a connection that was made, with a normal close frame.
func (h *handshake) close() {
	if h.ws == nil {
		return
	}
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	_ = h.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeWait))
	h.ws.Close()
}

// checkTLS reports the TLS handshake and the server's certificate.
func (t *outputTest) checkTLS(d testing.Driver, h *handshake) bool {
	mode := tlscommon.VerifyFull
	if t.tls != nil {
		mode = t.tls.Verification
	}
	if mode == tlscommon.VerifyNone {
		d.Warn("verification mode", "none: the server's certificate is not checked, so anyone on the path can read and alter the events; use it only for tests")
	} else {
		d.Info("verification mode", verificationModes[mode])
	}
	if !h.tlsDone {
		return check(d, "handshake", errors.New("no TLS handshake took place"))
	}
	ok := check(d, "handshake", tlsError(h.tlsErr))
	if ok {
		d.Info("TLS version", tlscommon.TLSVersion(h.tlsState.Version).String())
	}
	if certs := h.tlsState.PeerCertificates; len(certs) > 0 {
		describeCertificate(d, certs[0])
	}
	return ok
}

// verificationModes names the modes as ssl.verification_mode takes them.
// libbeat's String inverts a map in which "" and "full" both mean full, so
// it gives either, at random.
var verificationModes = map[tlscommon.TLSVerificationMode]string{
	tlscommon.VerifyFull:        "full",
	tlscommon.VerifyStrict:      "strict",
	tlscommon.VerifyCertificate: "certificate",
	tlscommon.VerifyNone:        "none",
}

func tlsError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w%s", err, dialHint(err))
}

// describeCertificate shows who the server says it is, also when the
// handshake failed: what to compare with ssl.certificate_authorities.
func describeCertificate(d testing.Driver, cert *x509.Certificate) {
	d.Info("server certificate", cert.Subject.String())
	d.Info("issuer", cert.Issuer.String())
	left := time.Until(cert.NotAfter)
	expiry := cert.NotAfter.UTC().Format(time.RFC3339)
	switch {
	case left <= 0:
		d.Warn("expires", expiry+": expired")
	case left < 48*time.Hour:
		d.Info("expires", fmt.Sprintf("%s (in %d hours)", expiry, int(left.Hours())))
	default:
		d.Info("expires", fmt.Sprintf("%s (in %d days)", expiry, int(left.Hours()/24)))
	}
}

// checkWebSocket reports the upgrade, the subprotocol and compression the
// server chose, and a ping's round trip.
func (t *outputTest) checkWebSocket(d testing.Driver, h *handshake) bool {
	if !check(d, "handshake", upgradeError(h)) {
		return false
	}
	d.Info("HTTP status", h.resp.Status)
	if t.ack {
		var err error
		if h.ws.Subprotocol() != protocol.Subprotocol {
			err = errors.New("the server did not select it, so it cannot acknowledge and the output would refuse it (set ack.enabled: false for a server without acknowledgements)")
		}
		if !check(d, "subprotocol "+protocol.Subprotocol, err) {
			return false
		}
	}
	if t.compression {
		if deflateAccepted(h.resp) {
			d.Error("compression", nil)
		} else {
			d.Warn("compression", "the server declined permessage-deflate: events would go uncompressed")
		}
	}
	rtt, err := ping(h.ws, t.pingTimeout)
	if err != nil && t.pingsOff {
		d.Warn("ping", err.Error()+"; pings are off (ping_interval: 0), so the output does not need them")
		return true
	}
	if !check(d, "ping", err) {
		return false
	}
	d.Info("round trip", rtt.Round(time.Microsecond).String())
	return true
}

// upgradeError is why the WebSocket upgrade failed, with what to check;
// nil if it succeeded.
func upgradeError(h *handshake) error {
	switch {
	case h.err == nil:
		return nil
	case errors.Is(h.err, websocket.ErrBadHandshake) && h.resp != nil:
		return fmt.Errorf("HTTP %s%s", h.resp.Status, refusalHint(h.resp))
	}
	return fmt.Errorf("%w%s", h.err, dialHint(h.err))
}

// errPong ends the wait for the pong: the pong handler returns it, and so
// gorilla's read.
var errPong = errors.New("pong")

// ping sends a ping and waits, at most timeout, for its pong: the round
// trip time. Messages from the server in between are ignored.
func ping(ws *websocket.Conn, timeout time.Duration) (time.Duration, error) {
	payload := fmt.Sprintf("filebeat test output %d", time.Now().UnixNano())
	var rtt time.Duration
	start := time.Now()
	ws.SetPongHandler(func(data string) error {
		if data != payload {
			return nil
		}
		rtt = time.Since(start)
		return errPong
	})
	deadline := start.Add(timeout)
	if err := ws.WriteControl(websocket.PingMessage, []byte(payload), deadline); err != nil {
		return 0, err
	}
	_ = ws.SetReadDeadline(deadline)
	for {
		_, _, err := ws.ReadMessage()
		var netErr net.Error
		switch {
		case errors.Is(err, errPong):
			return rtt, nil
		case errors.As(err, &netErr) && netErr.Timeout():
			return 0, fmt.Errorf("no pong within ping_timeout (%v): the output would declare the connection dead", timeout)
		case err != nil:
			return 0, fmt.Errorf("no pong: %w", err)
		}
	}
}
