package wsclient

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sort"
	"strings"

	"github.com/elastic/beats/v7/libbeat/version"

	"github.com/beats-websocket/websocket-output/transport"
	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// logStartup logs, once at start, what the output will do: its version and
// Beats', the servers and connections, framing, encoding, acknowledgements
// and the connection settings in use; and warns of credentials that would go
// unencrypted and of TLS without verification. It shows no credential.
func logStartup(log *logger, c config, urls []*url.URL, tlsConfig *tlsConfig) {
	log.Infof("websocket output %s (built with Beats %s, %s): %s, batch_size: %d, retry_limit: %d, frame: %s, %s, %s%s",
		Version, version.GetDefaultVersion(), runtime.Version(), c.describeHosts(urls),
		c.BatchSize, c.RetryLimit, c.Frame, c.encoding(), c.delivery(), c.describeConnection())
	if host := c.cleartextHost(urls); host != "" {
		log.Warnf("headers and credentials go unencrypted to %s: use wss:// to protect them", host)
	}
	if tlsConfig != nil && tlsConfig.Verification == verifyNone {
		log.Warn("ssl.verification_mode: none: the server's certificate is not checked, so anyone on the path can read and alter the events; use it only for tests")
	}
}

// encoding names the message encoding for the start-up log line.
func (c *config) encoding() string {
	if c.Codec.Namespace.IsSet() {
		return "codec." + c.Codec.Namespace.Name() + ", " + c.Opcode
	}
	return "{timestamp,message}, " + c.Opcode
}

// delivery describes acknowledgements for the start-up log line.
func (c *config) delivery() string {
	if c.Ack.Enabled {
		return fmt.Sprintf("acks: %s (timeout %v)", protocol.Subprotocol, c.Ack.Timeout)
	}
	return "acks: off"
}

// describeHosts names the servers and the connections to them for the
// start-up log line.
func (c *config) describeHosts(urls []*url.URL) string {
	names := make([]string, len(urls))
	for i, u := range urls {
		names[i] = transport.Display(u)
	}
	switch {
	case len(urls) == 1:
		return fmt.Sprintf("%d worker(s) to %s", c.Workers, names[0])
	case c.LoadBalance:
		return fmt.Sprintf("%d worker(s) to each of %d hosts (loadbalance) %s", c.Workers, len(urls), strings.Join(names, ", "))
	default:
		return fmt.Sprintf("%d worker(s), each failing over between %d hosts %s", c.Workers, len(urls), strings.Join(names, ", "))
	}
}

// describeConnection tells, for the start-up log line, which of the
// optional connection settings apply; it names headers but shows no
// credential.
func (c *config) describeConnection() string {
	var parts []string
	if len(c.Headers) > 0 {
		names := make([]string, 0, len(c.Headers))
		for k := range c.Headers {
			names = append(names, http.CanonicalHeaderKey(k))
		}
		sort.Strings(names)
		parts = append(parts, "headers: "+strings.Join(names, " "))
	}
	if c.Username != "" {
		parts = append(parts, "basic auth")
	}
	switch u, _ := c.proxyURL(); {
	case c.ProxyDisable:
		parts = append(parts, "proxy: disabled")
	case u != nil && u.User != nil:
		parts = append(parts, "proxy: "+transport.Display(u)+" (with credentials)")
	case u != nil:
		parts = append(parts, "proxy: "+transport.Display(u))
	}
	if c.Compression {
		parts = append(parts, fmt.Sprintf("compression: level %d", c.CompressionLevel))
	}
	if len(parts) == 0 {
		return ""
	}
	return ", " + strings.Join(parts, ", ")
}

// cleartextHost names a ws:// host, other than a loopback one, that the
// handshake's headers and credentials would reach unencrypted; "" if none.
func (c *config) cleartextHost(urls []*url.URL) string {
	if len(c.Headers) == 0 && c.Username == "" {
		return ""
	}
	for _, u := range urls {
		ip := net.ParseIP(u.Hostname())
		if u.Scheme == "ws" && u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return transport.Display(u)
		}
	}
	return ""
}
