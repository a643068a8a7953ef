package wsclient

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/beats-websocket/websocket-output/transport"
)

// Checks of the unpacked values that go-ucfg accepts but that cannot work:
// they would fail every connection, or be silently ignored, long after
// start. Validate (config.go) runs them; their errors name the key and the
// value, and never show a credential. Their names start with validate.

// validateHosts checks each of hosts and proxy_url. Errors show URLs as
// display does, and never a URL that may hold credentials.
func (c *config) validateHosts() error {
	for i, h := range c.Hosts {
		// Refused before anything else looks at it: a password with a '#',
		// '/' or '?' ends the URL's user information early, so that a
		// parsed URL, or url.Parse's error, would show part of it.
		if strings.Contains(h, "@") {
			return fmt.Errorf("hosts[%d]: the URL has an '@': credentials in the URL are not supported, use username and password (the URL is not shown; an '@' in its path must be written %%40)", i)
		}
		if !strings.Contains(h, "://") {
			return fmt.Errorf("hosts[%d]: give a full URL, such as \"ws://%s/echo\" or \"wss://...\"", i, strings.SplitN(h, "/", 2)[0])
		}
		u, err := transport.ParseURL(h)
		if err != nil {
			return fmt.Errorf("hosts[%d]: not a URL: %w", i, err)
		}
		switch {
		case u.Scheme != "ws" && u.Scheme != "wss":
			return fmt.Errorf("hosts[%d]: %q: scheme %q is not supported, use ws:// or wss://", i, transport.Display(u), u.Scheme)
		case u.Host == "":
			return fmt.Errorf("hosts[%d]: %q has no host", i, transport.Display(u))
		case u.Fragment != "":
			return fmt.Errorf("hosts[%d]: %q: a WebSocket URL has no #fragment", i, transport.Display(u))
		}
		if err := validateURLHostPort(fmt.Sprintf("hosts[%d]", i), u); err != nil {
			return err
		}
	}
	proxy, err := c.proxyURL()
	if err != nil {
		return err
	}
	// ssl.* apply to wss:// servers and to an https:// proxy; a ws:// server
	// without one would silently get none of them.
	if c.TLS.IsEnabled() && (proxy == nil || proxy.Scheme != "https") {
		for _, u := range c.urls() {
			if u.Scheme != "wss" {
				return fmt.Errorf("ssl: settings are given but %s is not a wss:// URL, so they would not apply; use wss (or set ssl.enabled: false)", transport.Display(u))
			}
		}
	}
	return nil
}

// proxyURL is proxy_url parsed and checked, or nil when unset.
func (c *config) proxyURL() (*url.URL, error) {
	if c.ProxyURL == "" {
		return nil, nil
	}
	u, err := transport.ParseURL(c.ProxyURL)
	switch {
	case err == nil && strings.Contains(c.ProxyURL, "@") && !transport.CredentialsParsed(u):
		return nil, fmt.Errorf("proxy_url: %w", transport.ErrUserinfo)
	case err != nil:
		return nil, fmt.Errorf("proxy_url: not a URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5" && u.Scheme != "socks5h":
		return nil, fmt.Errorf("proxy_url: scheme %q is not supported, use http, https or socks5", u.Scheme)
	case u.Host == "":
		return nil, fmt.Errorf("proxy_url: %q has no host", transport.Display(u))
	}
	if err := validateURLHostPort("proxy_url", u); err != nil {
		return nil, err
	}
	return u, nil
}

// handshakeHeaders are set by the WebSocket handshake itself, so a
// configured header of that name would break it.
var handshakeHeaders = []string{"Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions", "Sec-Websocket-Protocol"}

// validateAuth checks headers, username and password. Errors name the
// header but never show a value.
func (c *config) validateAuth() error {
	for k, v := range c.Headers {
		name := http.CanonicalHeaderKey(k)
		for _, h := range handshakeHeaders {
			if name == h {
				return fmt.Errorf("headers.%s: set by the WebSocket handshake itself and cannot be configured (see ack.enabled and compression)", k)
			}
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return fmt.Errorf("headers.%s: the value contains a line break or NUL byte", k)
		}
		if name == "Authorization" && c.Username != "" {
			return fmt.Errorf("headers.%s and username are both set; both would send an Authorization header, use one", k)
		}
	}
	if c.Password != "" && c.Username == "" {
		return errors.New("password: set without username")
	}
	return nil
}

// validateAddr checks addr and path, the server's one-URL form. Whether a
// server is given at all is checkServerKeys's concern.
func (c *config) validateAddr() error {
	if len(c.Hosts) > 0 || c.Addr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("addr: %q is not host:port such as \"localhost:8080\"", c.Addr)
	}
	if port == "" {
		return fmt.Errorf("addr: %q has no port", c.Addr)
	}
	if err := validateHostPort("addr", host, port); err != nil {
		return err
	}
	if strings.ContainsAny(c.Path, "?#") {
		return fmt.Errorf("path: %q has a query or fragment, which path would send escaped; give the server as hosts: [\"%s://%s%s\"] instead", c.Path, c.Schema, c.Addr, c.Path)
	}
	return nil
}

// validateHostPort checks the host and port of a server or proxy address:
// a host, and a port, if any, from 1 to 65535.
func validateHostPort(key, host, port string) error {
	if host == "" {
		return fmt.Errorf("%s: no host", key)
	}
	if strings.ContainsAny(host, " \t") {
		return fmt.Errorf("%s: host %q contains a space", key, host)
	}
	if port == "" {
		return nil
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%s: port %q is not a number from 1 to 65535", key, port)
	}
	return nil
}

// validateURLHostPort checks the host and port of a URL from hosts or
// proxy_url; key names it.
func validateURLHostPort(key string, u *url.URL) error {
	return validateHostPort(key, u.Hostname(), u.Port())
}

// validateHeaderNames checks that headers and proxy_headers have names an
// HTTP request can carry and proxy_headers values without line breaks (as
// validateAuth does for headers). Errors never show a value.
func (c *config) validateHeaderNames() error {
	for _, h := range []struct {
		key    string
		header map[string]string
	}{{"headers", c.Headers}, {"proxy_headers", c.ProxyHeaders}} {
		for k, v := range h.header {
			if !isToken(k) {
				return fmt.Errorf("%s: %q is not a header name (letters, digits and !#$%%&'*+-.^_`|~, no spaces)", h.key, k)
			}
			if strings.ContainsAny(v, "\r\n\x00") {
				return fmt.Errorf("%s.%s: the value contains a line break or NUL byte", h.key, k)
			}
		}
	}
	if strings.Contains(c.Username, ":") {
		return fmt.Errorf("username: contains \":\", which HTTP basic authentication uses to separate it from the password")
	}
	return nil
}

// isToken says whether s is an HTTP token (RFC 9110), as a header name
// must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return true
}

// validateTLSFiles checks, before libbeat loads them, that the files the
// ssl settings name can be read, so that the error names the key; that the
// CA pins are SHA-256 fingerprints, which libbeat compares as text at every
// handshake and never checks; and the line's own ssl settings
// (validateLineTLS, line.go).
func validateTLSFiles(tls *tlsSettings) error {
	if !tls.IsEnabled() {
		return nil
	}
	// 9.5's library takes a number for a mode and does not check it.
	if _, ok := verificationModes[tls.VerificationMode]; !ok {
		return fmt.Errorf("ssl.verification_mode: %d is not a verification mode, use full, strict, certificate or none", tls.VerificationMode)
	}
	for i, ca := range tls.CAs {
		if err := readable(ca); err != nil {
			return fmt.Errorf("ssl.certificate_authorities[%d]: %w", i, err)
		}
	}
	if err := readable(tls.Certificate.Certificate); tls.Certificate.Certificate != "" && err != nil {
		return fmt.Errorf("ssl.certificate: %w", err)
	}
	if err := readable(tls.Certificate.Key); tls.Certificate.Key != "" && err != nil {
		return fmt.Errorf("ssl.key: %w", err)
	}
	for i, pin := range tls.CASha256 {
		if b, err := base64.StdEncoding.DecodeString(pin); err != nil || len(b) != 32 {
			return fmt.Errorf("ssl.ca_sha256[%d]: %q is not a SHA-256 fingerprint in base64 (44 characters ending in \"=\")", i, pin)
		}
	}
	return validateLineTLS(tls)
}

// readable checks that a file setting, a path or the PEM text itself, can
// be read.
func readable(pathOrPEM string) error {
	if strings.HasPrefix(strings.TrimSpace(pathOrPEM), "-----BEGIN") {
		return nil
	}
	f, err := os.Open(pathOrPEM)
	if err != nil {
		return err
	}
	return f.Close()
}
