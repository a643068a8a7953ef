package wsclient

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/elastic/beats/v7/libbeat/outputs/codec"
)

// config is output.websocket in filebeat.yml. Every duration accepts a Go
// duration string ("30s") or a number of seconds (30), as the original design
// wrote ping_interval.
type config struct {
	// Workers is the number of connections per host (with LoadBalance) or
	// in all (without), each publishing batches on its own. Default 1.
	Workers int `config:"workers"`
	// BatchSize is the most events one Publish call gets. Default 2048.
	BatchSize int `config:"batch_size"`
	// RetryLimit is how often libbeat retries a batch before dropping its
	// events that are not guaranteed; -1 retries forever. Filebeat 7.17
	// marks the events of every input guaranteed, which libbeat retries
	// regardless. Default 3.
	RetryLimit int `config:"retry_limit"`
	// Worker, BulkMaxSize and MaxRetries are Beats' names of Workers,
	// BatchSize and RetryLimit: the same settings (beatsnames.go). Validate
	// moves their values over and sets them back to nil. Default unset.
	Worker      *int `config:"worker"`
	BulkMaxSize *int `config:"bulk_max_size"`
	MaxRetries  *int `config:"max_retries"`

	// Hosts are the servers as full URLs (ws://host:port/path or wss://...),
	// the alternative to Schema, Addr and Path; exactly one of the two forms
	// must be given (checkServerKeys). Default unset.
	Hosts []string `config:"hosts"`
	// LoadBalance spreads batches over all hosts, each with Workers
	// connections. False makes each of the Workers connections a libbeat
	// failover client: it uses one host and another after a failure, so
	// with Workers 1 one host at a time. Default false, as Filebeat's
	// Logstash output.
	LoadBalance bool `config:"loadbalance"`

	// Schema is ws or wss. Default ws.
	Schema string `config:"schema"`
	// Addr is host:port of the server. Default unset: Addr or Hosts is required.
	Addr string `config:"addr"`
	// Path is the URL path of the WebSocket endpoint. Default /echo.
	Path string `config:"path"`

	// Headers are added to the handshake request, e.g. Authorization.
	// They are never logged. Default unset.
	Headers map[string]string `config:"headers"`
	// Username and Password send HTTP basic authentication with the
	// handshake. Never logged. Default unset.
	Username string `config:"username"`
	Password string `config:"password"`

	// TLS is Filebeat's standard ssl.* settings, for wss:// servers.
	// Default unset: the system's CA roots, full verification.
	TLS *tlsSettings `config:"ssl"`
	// ProxyURL, ProxyHeaders and ProxyDisable are Filebeat's standard
	// proxy_url, proxy_headers and proxy_disable, turned into libbeat's
	// httpcommon settings by proxySettings; read as plain values here so
	// that a bad proxy_url's error cannot show its password. Without
	// proxy_url the environment's HTTP_PROXY, HTTPS_PROXY and NO_PROXY
	// apply. Defaults unset and false.
	ProxyURL     string            `config:"proxy_url"`
	ProxyHeaders map[string]string `config:"proxy_headers"`
	ProxyDisable bool              `config:"proxy_disable"`

	// Compression negotiates permessage-deflate. Default false.
	Compression bool `config:"compression"`
	// CompressionLevel is the deflate level, 1 (fastest) to 9 (smallest).
	// Default 1.
	CompressionLevel int `config:"compression_level"`

	// PingInterval is the time between pings; 0 disables them. Default 30s.
	PingInterval time.Duration `config:"ping_interval"`
	// PingTimeout is how long a pong may take before the connection is
	// declared dead. Default 10s.
	PingTimeout time.Duration `config:"ping_timeout"`
	// Timeout bounds the handshake and each write. Default 30s.
	Timeout time.Duration `config:"timeout"`

	// MaxLen drops (never truncates) events whose message is longer than
	// MaxLen bytes; 0 means no limit. Default 0.
	MaxLen int `config:"max_len"`

	// Frame is event (one message per event) or batch (one message per
	// batch, each event followed by a newline). Default event.
	Frame string `config:"frame"`
	// Codec is Filebeat's standard codec setting (codec.json, codec.format)
	// for sending whole events. Unset, events go in the original
	// {"timestamp","message"} format. Default unset.
	Codec codec.Config `config:"codec"`
	// Opcode is text or binary: the WebSocket message type. Text messages
	// are always valid UTF-8. Default text.
	Opcode string `config:"opcode"`

	// Backoff is the reconnect delay: after the n-th failure in a row it is
	// drawn at random between Init and Init×2^(n-1), capped at Max; it
	// starts over after a successful connect. Defaults 1s and 60s, as
	// Filebeat's own outputs.
	Backoff backoffConfig `config:"backoff"`

	// Ack makes the server acknowledge what it received (PROTOCOL.md), so
	// that a batch counts as delivered only once the server holds it.
	Ack ackConfig `config:"ack"`
}

type ackConfig struct {
	// Enabled offers the beats-ack.v1 subprotocol and requires the server
	// to select it. Default false.
	Enabled bool `config:"enabled"`
	// Timeout is how long the acknowledgement of a written batch may take
	// before the connection is given up and the batch sent again. Default 30s.
	Timeout time.Duration `config:"timeout"`
}

type backoffConfig struct {
	Init time.Duration `config:"init"`
	Max  time.Duration `config:"max"`
}

func defaultConfig() config {
	return config{
		Workers:      1,
		BatchSize:    2048,
		RetryLimit:   3,
		Schema:       "ws",
		Path:         "/echo",
		PingInterval: 30 * time.Second,
		PingTimeout:  10 * time.Second,
		Timeout:      30 * time.Second,
		MaxLen:       0,
		Frame:        frameEvent,
		Opcode:       opcodeText,

		CompressionLevel: 1,
		Backoff: backoffConfig{
			Init: 1 * time.Second,
			Max:  60 * time.Second,
		},
		Ack: ackConfig{
			Enabled: false,
			Timeout: 30 * time.Second,
		},
	}
}

// Validate is called by go-ucfg after unpacking. Its errors name the key and
// the value, so that Filebeat's start-up error says what to fix.
func (c *config) Validate() error {
	workers, batchSize, retryLimit := c.useBeatsNames()
	switch {
	case c.Workers < 1:
		return fmt.Errorf("%s: %d is invalid, it must be at least 1", workers, c.Workers)
	case c.BatchSize < 1:
		return fmt.Errorf("%s: %d is invalid, it must be at least 1", batchSize, c.BatchSize)
	case c.RetryLimit < -1:
		return fmt.Errorf("%s: %d is invalid, it must be -1 (retry forever) or more", retryLimit, c.RetryLimit)
	case c.Schema != "ws" && c.Schema != "wss":
		return fmt.Errorf("schema: %q is not supported, use \"ws\" or \"wss\"", c.Schema)
	case strings.ContainsAny(c.Addr, "/?#@") || strings.Contains(c.Addr, "://"):
		return fmt.Errorf("addr: %q is not host:port (the scheme goes in schema, the path in path)", c.Addr)
	case !strings.HasPrefix(c.Path, "/"):
		return fmt.Errorf("path: %q must start with \"/\"", c.Path)
	case c.PingInterval < 0:
		return fmt.Errorf("ping_interval: %v is negative (use 0 to disable pings)", c.PingInterval)
	case c.PingTimeout <= 0:
		return fmt.Errorf("ping_timeout: %v is invalid, it must be positive", c.PingTimeout)
	case c.Timeout <= 0:
		return fmt.Errorf("timeout: %v is invalid, it must be positive", c.Timeout)
	case c.MaxLen < 0:
		return fmt.Errorf("max_len: %d is negative (use 0 for no limit)", c.MaxLen)
	case c.Frame != frameEvent && c.Frame != frameBatch:
		return fmt.Errorf("frame: %q is not supported, use %q or %q", c.Frame, frameEvent, frameBatch)
	case c.Opcode != opcodeText && c.Opcode != opcodeBinary:
		return fmt.Errorf("opcode: %q is not supported, use %q or %q", c.Opcode, opcodeText, opcodeBinary)
	case c.Frame == frameBatch && c.prettyJSON():
		return fmt.Errorf("codec.json.pretty: true cannot be used with frame: batch, which separates events with newlines")
	case c.Frame == frameBatch && strings.Contains(c.formatString(), "\n"):
		return fmt.Errorf("codec.format.string: %q has a newline, which frame: batch uses to separate events", c.formatString())
	case c.Backoff.Init <= 0:
		return fmt.Errorf("backoff.init: %v is invalid, it must be positive", c.Backoff.Init)
	case c.Backoff.Max < c.Backoff.Init:
		return fmt.Errorf("backoff.max: %v is less than backoff.init %v", c.Backoff.Max, c.Backoff.Init)
	case c.Ack.Timeout <= 0:
		return fmt.Errorf("ack.timeout: %v is invalid, it must be positive", c.Ack.Timeout)
	case c.CompressionLevel < 1 || c.CompressionLevel > 9:
		return fmt.Errorf("compression_level: %d is invalid, it must be 1 (fastest) to 9 (smallest)", c.CompressionLevel)
	}
	for _, check := range []func() error{c.validateAddr, c.validateHosts, c.validateAuth, c.validateHeaderNames, c.validateCodec} {
		if err := check(); err != nil {
			return err
		}
	}
	return validateTLSFiles(c.TLS)
}

// validateCodec checks the codec's settings that libbeat would ignore.
func (c *config) validateCodec() error {
	_, err := c.codecConfig()
	return err
}

const (
	frameEvent   = "event"
	frameBatch   = "batch"
	opcodeText   = "text"
	opcodeBinary = "binary"
)

// prettyJSON says whether codec.json.pretty is on: its events span lines.
func (c *config) prettyJSON() bool {
	ns := c.Codec.Namespace
	if !ns.IsSet() || ns.Name() != "json" {
		return false
	}
	pretty, _ := ns.Config().Bool("pretty", -1)
	return pretty
}

// formatString is codec.format.string as written, or "".
func (c *config) formatString() string {
	ns := c.Codec.Namespace
	if !ns.IsSet() || ns.Name() != "format" {
		return ""
	}
	s, _ := ns.Config().String("string", -1)
	return s
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
