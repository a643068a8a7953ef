package transport

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
)

// What to check when a connection attempt fails, in the words of the
// output's settings: appended to the error Filebeat logs, and shown by
// Check.

// refusalHint says what to check when the server refuses the handshake.
// For a 400 it goes by the start of the answer's body (gorilla keeps up to
// 1 KiB), where Go's and nginx's TLS servers say what was wrong.
func refusalHint(resp *http.Response) string {
	code := resp.StatusCode
	switch {
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return " (check the credentials: headers, username and password)"
	case code == http.StatusNotFound:
		return " (no WebSocket endpoint at this path: check the URL's path)"
	case code == http.StatusBadRequest:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		switch {
		case bytes.Contains(body, []byte("HTTPS")):
			return " (the server expects TLS: use wss://)"
		case bytes.Contains(body, []byte("certificate")):
			return " (the server requires a client certificate: set ssl.certificate and ssl.key)"
		}
	case code >= 500:
		return " (the server failed: see its log)"
	case code == http.StatusSwitchingProtocols:
		return " (the server's answer is not a valid WebSocket upgrade)"
	case code >= 300 && code < 400:
		return " (a redirect, which is not followed: use the URL it points to)"
	case code < 300:
		return " (not a WebSocket endpoint: the server answered without upgrading; check the URL)"
	}
	return ""
}

// dialHint says what to check after a failed connection attempt.
func dialHint(err error) string {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var tlsRecord tls.RecordHeaderError
	// A TLS alert from the server arrives as a net.OpError around an
	// unexported type, and gorilla's compression error is unexported too:
	// only their text tells which.
	msg := err.Error()
	switch {
	case errors.As(err, &unknownCA):
		return " (set ssl.certificate_authorities to the CA that signed the server's certificate)"
	case errors.As(err, &hostname):
		return " (the certificate does not name the host in the URL)"
	case errors.As(err, &tlsRecord):
		return " (the server does not speak TLS: use ws://, or check the port)"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return " (the server closed the connection without answering the handshake: is it a WebSocket server, and does the port need wss://?)"
	case strings.Contains(msg, "remote error: tls: certificate required"), strings.Contains(msg, "remote error: tls: bad certificate"):
		return " (the server requires a client certificate it trusts: set ssl.certificate and ssl.key)"
	case strings.Contains(msg, "remote error: tls: unknown certificate authority"):
		return " (the server does not trust the CA that signed ssl.certificate)"
	case strings.Contains(msg, "websocket: invalid compression negotiation"):
		return " (the server accepted permessage-deflate only with context takeover, which this client does not do: set compression: false)"
	}
	return ""
}
