package transport

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
	"time"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// Checklist is where Check reports, step by step: libbeat's testing.Driver
// (`filebeat test output`) has these methods.
type Checklist interface {
	// Run reports the checks f makes as a group called name.
	Run(name string, f func(Checklist))
	Info(field, value string)
	Warn(field, reason string)
	// Error reports a check: passed when err is nil.
	Error(field string, err error)
}

// Check connects to the server once, the way Connect does (the same
// dialer, proxy, TLS settings and handshake headers), and reports each
// step: the DNS lookup (of the proxy, when one applies), the TCP dial, the
// TLS handshake and the server's certificate, the WebSocket upgrade, the
// subprotocol and compression the server chose, and a ping's round trip.
// It stops at the first step that fails and says whether all passed. No
// credential is ever reported.
func Check(opts Options, d Checklist) bool {
	proxy := newProxyDialer(&opts)
	t := &checker{opts: &opts, proxy: proxy}
	return t.host(d)
}

// checker is one Check.
type checker struct {
	opts  *Options
	proxy *proxyDialer
}

// group runs checks as one named group of the checklist and says whether
// they passed.
func group(d Checklist, name string, checks func(Checklist) bool) bool {
	ok := false
	d.Run(name, func(d Checklist) { ok = checks(d) })
	return ok
}

// check reports one check and says whether it passed.
func check(d Checklist, field string, err error) bool {
	d.Error(field, err)
	return err == nil
}

// host checks one host, step by step, until a step fails.
func (t *checker) host(d Checklist) bool {
	if _, err := ParseURL(t.opts.URL.String()); !check(d, "parse url", err) {
		return false
	}
	var h *handshake
	if !group(d, "connection", func(d Checklist) bool {
		dial, ok := t.lookup(d)
		if !ok {
			return false
		}
		h = t.handshake()
		return check(d, dial, h.dialError())
	}) {
		return false
	}
	defer h.close()
	if t.opts.URL.Scheme != "wss" {
		d.Warn("TLS", "secure connection disabled (ws://): use wss:// to encrypt")
	} else if !group(d, "TLS", func(d Checklist) bool { return t.checkTLS(d, h) }) {
		return false
	}
	return group(d, "WebSocket", func(d Checklist) bool { return t.checkWebSocket(d, h) })
}

// lookup resolves the host the connection goes to: the server's, or the
// proxy's when one applies (which then resolves the server's name itself).
// It returns the name of the dial's check, which says whether the dial goes
// through the proxy, and whether the lookup succeeded.
func (t *checker) lookup(d Checklist) (dial string, ok bool) {
	via, err := t.proxy.via()
	if err != nil {
		return "", check(d, "proxy", err)
	}
	host, lookup, dial := t.opts.URL.Hostname(), "dns lookup", "dial up"
	if via != nil {
		d.Info("proxy", proxyName(via))
		host, lookup, dial = via.Hostname(), "dns lookup of the proxy", "dial up through the proxy"
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.opts.Timeout)
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
func (t *checker) handshake() *handshake {
	h := &handshake{}
	dialer := newDialer(t.opts, func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := t.proxy.DialContext(ctx, network, addr)
		h.dialed, h.dialErr = true, err
		return conn, err
	})
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		TLSHandshakeDone: func(state tls.ConnectionState, err error) {
			h.tlsDone, h.tlsState, h.tlsErr = true, state, err
		},
	})
	h.ws, h.resp, h.err = dialer.DialContext(ctx, t.opts.URL.String(), t.opts.Header)
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
func (t *checker) checkTLS(d Checklist, h *handshake) bool {
	mode := t.opts.Verification
	if mode == "" {
		mode = "full"
	}
	if mode == "none" {
		d.Warn("verification mode", "none: the server's certificate is not checked, so anyone on the path can read and alter the events; use it only for tests")
	} else {
		d.Info("verification mode", mode)
	}
	if !h.tlsDone {
		return check(d, "handshake", errors.New("no TLS handshake took place"))
	}
	ok := check(d, "handshake", tlsError(h.tlsErr))
	if ok {
		d.Info("TLS version", tlsVersions[h.tlsState.Version])
	}
	if certs := h.tlsState.PeerCertificates; len(certs) > 0 {
		describeCertificate(d, certs[0])
	}
	return ok
}

// tlsVersions names the TLS versions as ssl.supported_protocols takes them.
var tlsVersions = map[uint16]string{
	tls.VersionTLS10: "TLSv1.0",
	tls.VersionTLS11: "TLSv1.1",
	tls.VersionTLS12: "TLSv1.2",
	tls.VersionTLS13: "TLSv1.3",
}

func tlsError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w%s", err, dialHint(err))
}

// describeCertificate shows who the server says it is, also when the
// handshake failed: what to compare with ssl.certificate_authorities.
func describeCertificate(d Checklist, cert *x509.Certificate) {
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
func (t *checker) checkWebSocket(d Checklist, h *handshake) bool {
	if !check(d, "handshake", upgradeError(h)) {
		return false
	}
	d.Info("HTTP status", h.resp.Status)
	if t.opts.Acks {
		var err error
		if h.ws.Subprotocol() != protocol.Subprotocol {
			err = errors.New("the server did not select it, so it cannot acknowledge and the output would refuse it (set ack.enabled: false for a server without acknowledgements)")
		}
		if !check(d, "subprotocol "+protocol.Subprotocol, err) {
			return false
		}
	}
	if t.opts.Compression > 0 {
		if deflateAccepted(h.resp) {
			d.Error("compression", nil)
		} else {
			d.Warn("compression", "the server declined permessage-deflate: events would go uncompressed")
		}
	}
	rtt, err := ping(h.ws, t.opts.PingTimeout)
	if err != nil && t.opts.PingInterval == 0 {
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
