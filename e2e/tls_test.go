package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TLS: nginx terminates TLS (with a CA and certificates the test makes) in
// front of the reference receiver, as a real deployment would.

func wssOutput(url, ssl string) string {
	return fmt.Sprintf("hosts: [%q]\nbackoff.init: 200ms\nbackoff.max: 1s\n%s", url, ssl)
}

func TestTLS_WSSThroughNginxVerifiesTheServer(t *testing.T) {
	dir := t.TempDir()
	p := newPKI(t, dir)
	recv := startReceiver(t, dir, "127.0.0.1:0", filepath.Join(dir, "received.log"))
	ng := startNginx(t, dir, recv.addr, p, false)
	url := "wss://" + ng.addr + "/echo"

	t.Run("with the CA", func(t *testing.T) {
		ships(t, recv, wssOutput(url, fmt.Sprintf("ssl.certificate_authorities: [%q]", p.ca)))
		access, _ := os.ReadFile(ng.accessLog)
		if !strings.Contains(string(access), `"GET /echo HTTP/1.1" 101`) {
			t.Fatalf("nginx did not upgrade the connection; its access log:\n%s", access)
		}
	})
	t.Run("without the CA", func(t *testing.T) {
		failsToConnect(t, recv, wssOutput(url, ""),
			"certificate signed by unknown authority", "set ssl.certificate_authorities")
	})
	t.Run("with the wrong CA", func(t *testing.T) {
		other := newPKI(t, t.TempDir())
		failsToConnect(t, recv, wssOutput(url, fmt.Sprintf("ssl.certificate_authorities: [%q]", other.ca)),
			"certificate signed by unknown authority")
	})
	t.Run("verification_mode none", func(t *testing.T) {
		fb := ships(t, recv, wssOutput(url, "ssl.verification_mode: none"))
		if !strings.Contains(fb.output(), "ssl.verification_mode: none: the server's certificate is not checked") {
			t.Fatalf("no warning about verification_mode: none in Filebeat's log:\n%s", fb.tail())
		}
	})
	t.Run("plain ws to the TLS port", func(t *testing.T) {
		failsToConnect(t, recv, wssOutput("ws://"+ng.addr+"/echo", ""), "HTTP 400", "use wss://")
	})
}

func TestTLS_MutualTLSThroughNginx(t *testing.T) {
	dir := t.TempDir()
	p := newPKI(t, dir)
	recv := startReceiver(t, dir, "127.0.0.1:0", filepath.Join(dir, "received.log"))
	ng := startNginx(t, dir, recv.addr, p, true)
	url := "wss://" + ng.addr + "/echo"
	ca := fmt.Sprintf("ssl.certificate_authorities: [%q]\n", p.ca)

	t.Run("with a client certificate", func(t *testing.T) {
		ships(t, recv, wssOutput(url, ca+fmt.Sprintf("ssl.certificate: %q\nssl.key: %q", p.clientCert, p.clientKey)))
	})
	t.Run("without a client certificate", func(t *testing.T) {
		failsToConnect(t, recv, wssOutput(url, ca), "HTTP 400", "client certificate")
	})
}

func TestTLS_ReceiverServesWSSWithMutualTLSItself(t *testing.T) {
	dir := t.TempDir()
	p := newPKI(t, dir)
	recv := startReceiver(t, dir, "127.0.0.1:0", filepath.Join(dir, "received.log"),
		"-tls-cert", p.serverCert, "-tls-key", p.serverKey, "-client-ca", p.ca)
	recv.tls = p.clientTLS(t)
	url := "wss://" + recv.addr + "/echo"
	ca := fmt.Sprintf("ssl.certificate_authorities: [%q]\n", p.ca)

	ships(t, recv, wssOutput(url, ca+fmt.Sprintf("ssl.certificate: %q\nssl.key: %q", p.clientCert, p.clientKey)))
	// Without a certificate the TLS handshake itself fails.
	failsToConnect(t, recv, wssOutput(url, ca), "tls: certificate required", "set ssl.certificate and ssl.key")
}
