// Command ackcheck checks a WebSocket server's side of beats-ack.v1
// (PROTOCOL.md), the acknowledged delivery of the websocket output:
//
//	ackcheck ws://127.0.0.1:8080/ingest
//	ackcheck -ca ca.pem -header 'Authorization: Bearer s3cret' wss://logs.example.com/ingest
//
// It connects as the output does with ack.enabled, offering the
// subprotocol, sends events as the output encodes them, with frame: event
// and frame: batch, and prints a checklist: the subprotocol is selected;
// acks count data messages from 1, restart at 0 on every connection, never
// decrease, never cover more than was sent, arrive within -timeout, and are
// well-formed; both frame modes are accepted; a ping gets a pong and a
// close frame a close frame. Exit status: 0 when every check passes, 1
// when one fails, 2 for a usage error.
//
// It cannot see whether the server stores a message durably before it
// acknowledges it, and says so: that is the server's promise.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/beats-websocket/websocket-output/transport/format"
	"github.com/beats-websocket/websocket-output/transport/protocol"
)

const usage = `usage: ackcheck [flags] ws://host:port/path

Checks a server's side of beats-ack.v1 (PROTOCOL.md) and prints a checklist.
Exit status: 0 every check passed, 1 one failed, 2 a usage error.
It sends %d event messages and %d batch messages the server will store
as it stores Filebeat's events.

Flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// headers collects -header flags.
type headers http.Header

func (h headers) String() string { return "" }

func (h headers) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("%q is not Name: value", s)
	}
	http.Header(h).Add(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

// run is the command with its arguments and outputs; it returns the exit
// status.
func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("ackcheck", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprintf(stderr, usage, eventMessages+1, batchMessages)
		flags.PrintDefaults()
	}
	timeout := flags.Duration("timeout", 5*time.Second, "how long each ack, pong and close answer, and the handshake, may take")
	ca := flags.String("ca", "", "wss: PEM file of the CAs to trust instead of the system's")
	insecure := flags.Bool("insecure", false, "wss: do not verify the server's certificate (tests only)")
	cert := flags.String("cert", "", "wss: client certificate (PEM), for servers that require mutual TLS")
	key := flags.String("key", "", "wss: the client certificate's key (PEM)")
	header := headers{}
	flags.Var(header, "header", `a handshake header, "Name: value", such as "Authorization: Bearer s3cret"; repeatable`)
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() != 1 {
		flags.Usage()
		return 2
	}
	target := flags.Arg(0)
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		fmt.Fprintf(stderr, "ackcheck: %q is not a ws:// or wss:// URL\n", target)
		return 2
	}
	if u.User != nil { // gorilla/websocket refuses them, and they would show in the process list
		fmt.Fprintf(stderr, "ackcheck: give credentials with -header (\"Authorization: Basic ...\" or \"Bearer ...\"), not in the URL\n")
		return 2
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "ackcheck: -timeout %v: must be positive\n", *timeout)
		return 2
	}
	tlsConfig, err := loadTLS(*ca, *cert, *key, *insecure)
	if err != nil {
		fmt.Fprintf(stderr, "ackcheck: %v\n", err)
		return 2
	}

	c := &checker{
		url: target,
		dialer: &websocket.Dialer{
			Proxy:            http.ProxyFromEnvironment,
			HandshakeTimeout: *timeout,
			TLSClientConfig:  tlsConfig,
			Subprotocols:     []string{protocol.Subprotocol},
		},
		header:  http.Header(header),
		timeout: *timeout,
		enc:     &format.Default{},
	}
	fmt.Fprintf(stdout, "ackcheck %s (%s, timeout %v)\n", redact(u), protocol.Subprotocol, *timeout)
	res := c.run()
	return report(stdout, res)
}

// report prints the checklist and returns the exit status.
func report(w io.Writer, res results) int {
	var failures, skipped int
	for i, r := range res {
		mark := "PASS"
		switch r.status {
		case failed:
			mark, failures = "FAIL", failures+1
		case notChecked:
			mark, skipped = "SKIP", skipped+1
		}
		fmt.Fprintf(w, "%s  %s: %s\n", mark, checkNames[i], r.detail)
	}
	fmt.Fprintf(w, "%s  %s\n", "NOTE", durabilityNote)
	switch {
	case failures > 0:
		fmt.Fprintf(w, "ackcheck: %d of %d checks failed", failures, len(res))
		if skipped > 0 {
			fmt.Fprintf(w, ", %d could not be made", skipped)
		}
		fmt.Fprintln(w)
		return 1
	case skipped > 0: // every skip follows a failure; this would be a bug
		fmt.Fprintf(w, "ackcheck: %d of %d checks could not be made\n", skipped, len(res))
		return 1
	default:
		fmt.Fprintf(w, "ackcheck: all %d checks passed\n", len(res))
		return 0
	}
}

// durabilityNote is what no client can check.
const durabilityNote = `not checked, as no client can: whether the server made each message durable before
      acknowledging it. An ack is the server's promise not to lose what it covers: for a file,
      written and fsynced; for a queue, confirmed by it. examples/servers/ shows where that is.`

// loadTLS returns the TLS settings the flags ask for; nil means the
// system's roots and full verification.
func loadTLS(ca, cert, key string, insecure bool) (*tls.Config, error) {
	if ca == "" && cert == "" && key == "" && !insecure {
		return nil, nil
	}
	cfg := &tls.Config{InsecureSkipVerify: insecure}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca: %s has no PEM certificate", ca)
		}
	}
	if (cert == "") != (key == "") {
		return nil, errors.New("-cert and -key go together")
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("-cert/-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// dialError says why a handshake failed, with the HTTP status if the
// server answered, and what to try for a certificate the client does not
// trust.
func dialError(err error, resp *http.Response) error {
	if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		hint := ""
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			hint = " (check the credentials: -header)"
		case http.StatusNotFound:
			hint = " (no WebSocket endpoint at this path: check the URL's path)"
		}
		return fmt.Errorf("the handshake was refused: HTTP %s%s", resp.Status, hint)
	}
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("%w (give the CA that signed the server's certificate with -ca)", err)
	case errors.As(err, &hostname):
		return fmt.Errorf("%w (the certificate does not name this host)", err)
	}
	return err
}

// redact shows u without user information or query values, which may
// hold credentials.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			q[k] = []string{"xxxxx"}
		}
		c.RawQuery = q.Encode()
	}
	return c.String()
}
