package wsclient

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
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
// unencrypted and of TLS without verification (startupWarnings). It shows
// no credential. Under `filebeat test config` the warnings go to stderr
// instead, as that command shows no log without -e.
func logStartup(log *logger, c config, urls []*url.URL, tlsConfig *tlsConfig) {
	log.Infof("websocket output %s (built with Beats %s, %s): %s, batch_size: %d, retry_limit: %d, frame: %s, %s, %s%s",
		Version, version.GetDefaultVersion(), runtime.Version(), c.describeHosts(urls),
		c.BatchSize, c.RetryLimit, c.Frame, c.encoding(), c.delivery(), c.describeConnection())
	warnings := startupWarnings(c, urls, tlsConfig)
	if testingConfig() {
		printWarnings(os.Stderr, warnings)
		return
	}
	for _, w := range warnings {
		log.Warn(w)
	}
}

// startupWarnings are the warnings of a configuration that works but is
// risky: credentials that would go unencrypted, TLS without verification.
func startupWarnings(c config, urls []*url.URL, tlsConfig *tlsConfig) []string {
	var warnings []string
	if host := c.cleartextHost(urls); host != "" {
		warnings = append(warnings, fmt.Sprintf("headers and credentials go unencrypted to %s: use wss:// to protect them", host))
	}
	if tlsConfig != nil && tlsConfig.Verification == verifyNone {
		warnings = append(warnings, "ssl.verification_mode: none: the server's certificate is not checked, so anyone on the path can read and alter the events; use it only for tests")
	}
	return warnings
}

// printWarnings writes the warnings for `filebeat test config`, one a line,
// as "WARN output.websocket: ..." (the form of `filebeat test output`'s).
func printWarnings(w io.Writer, warnings []string) {
	for _, warning := range warnings {
		fmt.Fprintf(w, "WARN output.websocket: %s\n", warning)
	}
}

// testConfigFunc is the function of libbeat (7.17 and 9.5) that runs
// `filebeat test config`: it builds the pipeline, and so the output, then
// prints "Config OK".
const testConfigFunc = "github.com/elastic/beats/v7/libbeat/cmd/instance.(*Beat).TestConfig"

// testingConfig says whether the output is being built by `filebeat test
// config`. libbeat gives the factory no sign of the command, and that
// command logs only to the log file without -e, so the start-up warnings
// would not be seen; its TestConfig calls the factory on its own stack.
func testingConfig() bool {
	pc := make([]uintptr, 128)
	frames := runtime.CallersFrames(pc[:runtime.Callers(2, pc)])
	for {
		frame, more := frames.Next()
		if strings.HasPrefix(frame.Function, testConfigFunc) {
			return true
		}
		if !more {
			return false
		}
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
