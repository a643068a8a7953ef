package wsclient

import (
	"crypto/tls"
	"net/http"
	"net/url"

	"github.com/beats-websocket/websocket-output/transport"
)

// endpoint is one server and how to reach it, as the transport takes it:
// the configuration's TLS, proxy, handshake headers, timeouts,
// acknowledgement and backoff settings for the URL u. tlsConfig is the
// loaded ssl.* settings, nil when there are none (the system's roots, full
// verification). The clients of one host share it.
func endpoint(cfg config, u *url.URL, tlsConfig *tlsConfig) transport.Options {
	header := http.Header{}
	for k, v := range cfg.Headers {
		header.Set(k, v)
	}
	if cfg.Username != "" {
		header.Set("Authorization", "Basic "+transport.BasicAuth(cfg.Username, cfg.Password))
	}
	proxy := cfg.proxySettings()
	opts := transport.Options{
		URL:          u,
		Header:       header,
		Verification: verificationMode(tlsConfig),
		Proxy:        proxy.ProxyFunc(),
		ProxyHeader:  proxy.Headers.Headers(),
		// The ssl settings apply to an https proxy too. libbeat warns at
		// each build without verification: the transport builds one per
		// proxy host.
		ProxyTLS:     func(host string) *tls.Config { return tlsConfig.BuildModuleClientConfig(host) },
		Timeout:      cfg.Timeout,
		PingInterval: cfg.PingInterval,
		PingTimeout:  cfg.PingTimeout,
		BackoffInit:  cfg.Backoff.Init,
		BackoffMax:   cfg.Backoff.Max,
	}
	if u.Scheme == "wss" {
		opts.TLS = tlsConfig.BuildModuleClientConfig(u.Hostname())
	}
	if cfg.Compression {
		opts.Compression = cfg.CompressionLevel
	}
	if cfg.Ack.Enabled {
		opts.Acks, opts.AckTimeout = true, cfg.Ack.Timeout
	}
	return opts
}

// proxySettings are proxy_url, proxy_headers and proxy_disable as libbeat's
// HTTP outputs take them: without proxy_url the environment's apply.
func (c *config) proxySettings() proxySettings {
	u, _ := c.proxyURL() // validated
	settings := proxySettings{Headers: c.ProxyHeaders, Disable: c.ProxyDisable}
	if u != nil {
		settings.URL = newProxyURI(*u)
	}
	return settings
}

// verificationModes names the modes as ssl.verification_mode takes them.
// libbeat's String inverts a map in which "" and "full" both mean full, so
// it gives either, at random.
var verificationModes = map[verification]string{
	verifyFull:        "full",
	verifyStrict:      "strict",
	verifyCertificate: "certificate",
	verifyNone:        "none",
}

// verificationMode names ssl.verification_mode: full without ssl settings.
func verificationMode(tlsConfig *tlsConfig) string {
	if tlsConfig == nil {
		return "full"
	}
	return verificationModes[tlsConfig.Verification]
}
