package main

import (
	"bytes"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun_RefusesWhatItCannotCheck(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		nil,
		{"http://127.0.0.1:8080/ingest"},
		{"127.0.0.1:8080"},
		{"ws://a/x", "ws://b/y"},
		{"ws://user:pa55@127.0.0.1:8080/"},
		{"-header", "no colon", "ws://127.0.0.1:8080/"},
		{"-timeout", "0s", "ws://127.0.0.1:8080/"},
		{"-cert", "client.pem", "wss://127.0.0.1:8080/"},
		{"-ca", filepath.Join(t.TempDir(), "missing.pem"), "wss://127.0.0.1:8080/"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("ackcheck %q: exit status %d, stderr %q; want 2 and the reason", args, code, stderr.String())
		}
	}
}

func TestRun_FailsWhenNothingListens(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, got, out := checklist(t, "ws://"+addr+"/ingest")
	if v := got["subprotocol selected"]; code != 1 || v.mark != "FAIL" || !strings.Contains(v.detail, "cannot connect") || !strings.Contains(v.detail, "connection refused") {
		t.Fatalf("exit status %d; want 1 and the refused connection:\n%s", code, out)
	}
}

// wss:// is verified against -ca, fails without it naming the flag, and
// -insecure skips the verification.
func TestRun_WSSVerifiesTheCertificateAgainstCA(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(testServer(t, behaviour{}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake without -ca fails, as it should
	srv.StartTLS()
	t.Cleanup(srv.Close)
	url := "wss" + strings.TrimPrefix(srv.URL, "https") + "/ingest"
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, out := checklist(t, "-timeout", testTimeout.String(), "-ca", ca, url); code != 0 {
		t.Errorf("with -ca: exit status %d, want 0:\n%s", code, out)
	}
	if code, _, out := checklist(t, "-timeout", testTimeout.String(), "-insecure", url); code != 0 {
		t.Errorf("with -insecure: exit status %d, want 0:\n%s", code, out)
	}
	code, got, out := checklist(t, "-timeout", testTimeout.String(), url)
	if v := got["subprotocol selected"]; code != 1 || v.mark != "FAIL" || !strings.Contains(v.detail, "certificate signed by unknown authority (give the CA that signed the server's certificate with -ca)") {
		t.Errorf("without -ca: exit status %d; want 1 and the unknown authority:\n%s", code, out)
	}
}

// -header reaches the handshake; a refused handshake is reported with its
// status; the URL's query values (a token, maybe) are not printed.
func TestRun_HeaderAuthenticatesTheHandshake(t *testing.T) {
	t.Parallel()
	inner := testServer(t, behaviour{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ingest?token=t0ken"
	code, _, out := checklist(t, "-timeout", testTimeout.String(), "-header", "Authorization: Bearer s3cret", url)
	if code != 0 {
		t.Errorf("with the header: exit status %d, want 0:\n%s", code, out)
	}
	for _, secret := range []string{"t0ken", "s3cret"} {
		if strings.Contains(out, secret) {
			t.Errorf("the output shows %q:\n%s", secret, out)
		}
	}
	code, got, out := checklist(t, "-timeout", testTimeout.String(), url)
	if v := got["subprotocol selected"]; code != 1 || v.mark != "FAIL" || !strings.Contains(v.detail, "the handshake was refused: HTTP 401 Unauthorized") {
		t.Errorf("without the header: exit status %d; want 1 and HTTP 401:\n%s", code, out)
	}
}
