package wsclient

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/elastic/beats/v7/libbeat/common"
	"github.com/elastic/beats/v7/libbeat/common/transport/httpcommon"
	"github.com/elastic/beats/v7/libbeat/common/transport/tlscommon"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// checkServerKeys checks that the configuration names the server one way:
// hosts (full URLs) or schema, addr and path. It reads which keys were
// written, which the unpacked config, with its defaults, no longer shows.
func checkServerKeys(cfg *common.Config) error {
	var parts []string
	for _, k := range []string{"schema", "addr", "path"} {
		if cfg.HasField(k) {
			parts = append(parts, k)
		}
	}
	hosts := cfg.HasField("hosts")
	switch {
	case hosts && len(parts) > 0:
		return fmt.Errorf("hosts and %s are both set: give the server either as hosts (full URLs such as \"wss://logs.example.com/ingest\") or as schema, addr and path", strings.Join(parts, ", "))
	case !hosts && !cfg.HasField("addr"):
		return errors.New("hosts: no server given: set hosts (full URLs such as \"ws://localhost:8080/echo\") or addr (host:port, with schema and path)")
	}
	if n, err := cfg.CountField("hosts"); hosts && (err != nil || n == 0) {
		return errors.New("hosts: the list is empty: give at least one URL such as \"ws://localhost:8080/echo\"")
	}
	if addr, err := cfg.String("addr", -1); !hosts && err == nil && addr == "" {
		return errors.New("addr: must not be empty, give host:port such as \"localhost:8080\" (or hosts: full URLs)")
	}
	return nil
}

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
		u, err := parseURL(h)
		if err != nil {
			return fmt.Errorf("hosts[%d]: not a URL: %w", i, err)
		}
		switch {
		case u.Scheme != "ws" && u.Scheme != "wss":
			return fmt.Errorf("hosts[%d]: %q: scheme %q is not supported, use ws:// or wss://", i, display(u), u.Scheme)
		case u.Host == "":
			return fmt.Errorf("hosts[%d]: %q has no host", i, display(u))
		case u.Fragment != "":
			return fmt.Errorf("hosts[%d]: %q: a WebSocket URL has no #fragment", i, display(u))
		}
		if err := checkURLHostPort(fmt.Sprintf("hosts[%d]", i), u); err != nil {
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
				return fmt.Errorf("ssl: settings are given but %s is not a wss:// URL, so they would not apply; use wss (or set ssl.enabled: false)", display(u))
			}
		}
	}
	return nil
}

// errUserinfo is why a URL with credentials that do not parse is refused;
// it says what to fix without showing any of the URL.
var errUserinfo = errors.New("the user information (user:password@) does not parse: a '#', '/', '?', '%' or space in the username or password must be percent-encoded, such as %23 for '#' (the URL is not shown, as it holds a password)")

// proxyURL is proxy_url parsed and checked, or nil when unset.
func (c *config) proxyURL() (*url.URL, error) {
	if c.ProxyURL == "" {
		return nil, nil
	}
	u, err := parseURL(c.ProxyURL)
	switch {
	case err == nil && strings.Contains(c.ProxyURL, "@") && !credentialsParsed(u):
		return nil, fmt.Errorf("proxy_url: %w", errUserinfo)
	case err != nil:
		return nil, fmt.Errorf("proxy_url: not a URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5" && u.Scheme != "socks5h":
		return nil, fmt.Errorf("proxy_url: scheme %q is not supported, use http, https or socks5", u.Scheme)
	case u.Host == "":
		return nil, fmt.Errorf("proxy_url: %q has no host", display(u))
	}
	if err := checkURLHostPort("proxy_url", u); err != nil {
		return nil, err
	}
	return u, nil
}

// proxySettings are proxy_url, proxy_headers and proxy_disable as libbeat's
// HTTP outputs take them: without proxy_url the environment's apply.
func (c *config) proxySettings() httpcommon.HTTPClientProxySettings {
	u, _ := c.proxyURL() // validated
	settings := httpcommon.HTTPClientProxySettings{Headers: c.ProxyHeaders, Disable: c.ProxyDisable}
	if u != nil {
		settings.URL = httpcommon.NewProxyURIFromURL(*u)
	}
	return settings
}

// parseURL is url.Parse with an error that shows none of the URL: not the
// URL, which may hold a password, nor, if the URL has user information,
// url.Parse's own error, which quotes the part it stumbled on, such as a
// password's digits taken for a port.
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	if err != nil && strings.Contains(s, "@") {
		err = errUserinfo
	}
	return u, err
}

// credentialsParsed says whether the '@' of a URL that has one ended its
// user information, as it should: a '#', '/' or '?' in a password ends the
// URL's authority before the '@', leaving it, and the rest of the password,
// in the host, path, query or fragment.
func credentialsParsed(u *url.URL) bool {
	return u.User != nil && !strings.Contains(u.Host+u.Path+u.RawQuery+u.Fragment+u.Opaque, "@")
}

// display names a URL in logs and errors: without its user information, and
// with the values of its query, where a token may be, masked.
func display(u *url.URL) string {
	masked := *u
	masked.User = nil
	if u.RawQuery == "" {
		return masked.String()
	}
	q := u.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = url.QueryEscape(k) + "=xxxxx"
	}
	masked.RawQuery = strings.Join(keys, "&")
	return masked.String()
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

// urls are the servers to connect to, one per host.
func (c *config) urls() []*url.URL {
	if len(c.Hosts) == 0 {
		return []*url.URL{{Scheme: c.Schema, Host: c.Addr, Path: c.Path}}
	}
	urls := make([]*url.URL, len(c.Hosts))
	for i, h := range c.Hosts {
		urls[i], _ = url.Parse(h) // validated
	}
	return urls
}

// endpoint is one server and how to reach it: the dialer with the TLS,
// proxy, subprotocol and compression settings, and the handshake's extra
// headers.
type endpoint struct {
	url    *url.URL
	dialer *websocket.Dialer
	proxy  *proxyDialer // the dialer's NetDialContext, which knows the proxy
	header http.Header  // may hold credentials: never logged
}

// newEndpoint prepares the connections to u. tlsConfig is the loaded ssl.*
// settings, nil when there are none (the system's roots, full verification).
func newEndpoint(cfg config, u *url.URL, tlsConfig *tlscommon.TLSConfig) *endpoint {
	proxy := newProxyDialer(cfg.proxySettings(), u, tlsConfig, cfg.Timeout)
	dialer := &websocket.Dialer{
		NetDialContext:    proxy.DialContext,
		HandshakeTimeout:  cfg.Timeout,
		WriteBufferSize:   writeBufferSize,
		EnableCompression: cfg.Compression,
	}
	if u.Scheme == "wss" {
		dialer.TLSClientConfig = tlsConfig.BuildModuleClientConfig(u.Hostname())
	}
	if cfg.Ack.Enabled {
		dialer.Subprotocols = []string{protocol.Subprotocol}
	}
	header := http.Header{}
	for k, v := range cfg.Headers {
		header.Set(k, v)
	}
	if cfg.Username != "" {
		header.Set("Authorization", "Basic "+basicAuth(cfg.Username, cfg.Password))
	}
	return &endpoint{url: u, dialer: dialer, proxy: proxy, header: header}
}

func basicAuth(username, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(username + ":" + password))
}
