package wsclient

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

func tlsVerificationNone() *tlsSettings {
	return &tlsSettings{VerificationMode: verifyNone}
}

func wssConfig(s *wstest.Server) config {
	c := testConfig(s)
	c.Schema = "wss"
	return c
}

func TestConnect_WSSVerifiesTheServerAgainstTheConfiguredCA(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.TLS = true })
	cfg := wssConfig(s)
	cfg.TLS = &tlsSettings{CAs: []string{s.CertPEM()}}
	c, _ := newTestClient(t, cfg)
	mustConnect(t, c)
	if err := c.Publish(context.Background(), batchOf(2)); err != nil {
		t.Fatal(err)
	}
	s.Receive(2)
}

func TestConnect_WSSWithAnUnknownCAFailsWithACertificateErrorAndAHint(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.TLS = true })
	c, _ := newTestClient(t, wssConfig(s)) // the system's roots only
	err := connect(c)
	if err == nil || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), "ssl.certificate_authorities") {
		t.Fatalf("connect to a server with a private CA: %v", err)
	}
}

func TestConnect_WSSWithVerificationNoneAcceptsAnyCertificate(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.TLS = true })
	cfg := wssConfig(s)
	cfg.TLS = tlsVerificationNone()
	c, _ := newTestClient(t, cfg)
	mustConnect(t, c)
}

func TestConnect_WSSToAHostTheCertificateDoesNotNameFailsWithAHint(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.TLS = true }) // httptest's certificate: example.com, 127.0.0.1, ::1
	cfg := wssConfig(s)
	_, port, _ := net.SplitHostPort(s.Addr())
	cfg.Addr = net.JoinHostPort("localhost", port)
	cfg.TLS = &tlsSettings{CAs: []string{s.CertPEM()}}
	c, _ := newTestClient(t, cfg)
	err := connect(c)
	if err == nil || !strings.Contains(err.Error(), "localhost") || !strings.Contains(err.Error(), "does not name the host") {
		t.Fatalf("connect to a host the certificate does not name: %v", err)
	}
}

func TestConnect_PlainWSToATLSPortSaysTheServerSpeaksTLS(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.TLS = true })
	c, _ := newTestClient(t, testConfig(s)) // ws://
	err := connect(c)
	if err == nil || !strings.Contains(err.Error(), "HTTP 400") || !strings.Contains(err.Error(), "use wss://") {
		t.Fatalf("ws:// to a TLS port: %v", err)
	}
}

func TestConnect_SendsHeadersAndBasicAuthWithTheHandshake(t *testing.T) {
	s := wstest.New(t, nil)
	cfg := testConfig(s)
	cfg.Headers = map[string]string{"X-Tenant": "blue", "x-api-key": "k1"}
	cfg.Username, cfg.Password = "alice", "s3cret"
	c, _ := newTestClient(t, cfg)
	mustConnect(t, c)
	r := s.Handshake()
	user, pass, ok := r.BasicAuth()
	if !ok || user != "alice" || pass != "s3cret" || r.Header.Get("X-Tenant") != "blue" || r.Header.Get("X-Api-Key") != "k1" {
		t.Fatalf("handshake headers %v", r.Header)
	}
}

func TestConnect_RefusedCredentialsGiveTheStatusWithoutTheToken(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Refuse = http.StatusUnauthorized })
	cfg := testConfig(s)
	cfg.Headers = map[string]string{"Authorization": "Bearer tok-s3cret"}
	c, _ := newTestClient(t, cfg)
	err := connect(c)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("connect with a refused token: %v", err)
	}
	if strings.Contains(err.Error(), "tok-s3cret") || strings.Contains(c.String(), "tok-s3cret") {
		t.Fatalf("the token shows: %v, %s", err, c)
	}
}

func TestPublish_CompressionNegotiatedAndDataIntact(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.Compress = true })
	cfg := batchConfig(s)
	cfg.Compression, cfg.CompressionLevel = true, 9
	c, obs := newTestClient(t, cfg)
	mustConnect(t, c)
	if ext := s.Handshake().Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Fatalf("the client did not offer permessage-deflate: %q", ext)
	}
	handshake := s.Wire.Load()
	if err := c.Publish(context.Background(), batchOf(200)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(s.Receive(1)[0], "\n"), "\n")
	for i, m := range lines {
		if got, want := messageOf(t, m), fmt.Sprint("event ", i); got != want {
			t.Fatalf("event %d: %q, want %q", i, got, want)
		}
	}
	// 200 similar events compress to a small fraction of their size.
	if wire, sent := s.Wire.Load()-handshake, obs.writeBytes.Load(); len(lines) != 200 || wire > sent/4 {
		t.Fatalf("%d events: %d bytes on the wire for a %d-byte message", len(lines), wire, sent)
	}
}

func TestConnect_ServerDecliningCompressionGetsUncompressedMessagesAndOneWarning(t *testing.T) {
	s := wstest.New(t, nil) // no compression
	cfg := testConfig(s)
	cfg.Compression = true
	log, logs := newTestingLogger(t)
	c, _ := newClientWith(t, cfg, log, nil)
	for i := 0; i < 2; i++ {
		mustConnect(t, c)
		if err := c.Publish(context.Background(), batchOf(1)); err != nil {
			t.Fatal(err)
		}
		s.Receive(1)
		c.conn.Lost(c.conn.Current())
	}
	if n := logs.FilterMessageSnippet("did not accept permessage-deflate").Len(); n != 1 {
		t.Fatalf("%d warnings about the declined compression over two connections, want 1", n)
	}
}
