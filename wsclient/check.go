package wsclient

import (
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/elastic/beats/v7/libbeat/common"
	"github.com/elastic/beats/v7/libbeat/common/transport/tlscommon"
	"github.com/elastic/beats/v7/libbeat/outputs/codec"
)

// The checks of values that go-ucfg accepts but that cannot work: they
// would fail every connection, or be silently ignored, long after start.

// checkShapes checks, before unpacking, the keys whose wrong shape go-ucfg
// would convert instead of refusing: a list given for headers becomes
// headers named "0", "1", ...; an object given for hosts becomes a list of
// its values; a value given for ssl fails with a stack trace.
func checkShapes(cfg *common.Config) error {
	for _, key := range []string{"headers", "proxy_headers"} {
		if sub, err := cfg.Child(key, -1); err == nil && sub.IsArray() {
			return fmt.Errorf("%s: give header names with their values, such as %s: {X-Tenant: blue}, not a list", key, key)
		}
	}
	if sub, err := cfg.Child("hosts", -1); err == nil && sub.IsDict() {
		return fmt.Errorf("hosts: give a list of URLs, such as [\"ws://localhost:8080/echo\"], not an object")
	}
	if _, err := cfg.Child("ssl", -1); cfg.HasField("ssl") && err != nil {
		return fmt.Errorf("ssl: give settings such as ssl.certificate_authorities, not a single value")
	}
	// go-ucfg truncates a fraction given for a number: max_len: 0.5 would
	// become 0, no limit.
	for _, key := range []string{"workers", "batch_size", "retry_limit", "worker", "bulk_max_size", "max_retries", "compression_level", "max_len"} {
		if f, err := cfg.Float(key, -1); err == nil && f != math.Trunc(f) {
			return fmt.Errorf("%s: %v is not a whole number", key, f)
		}
	}
	return checkKeys(cfg)
}

// checkKeys refuses keys this output does not have: a misspelt key would
// otherwise be ignored, and ack.enable: true give no acknowledgements.
func checkKeys(cfg *common.Config) error {
	known := map[string]bool{"enabled": true} // output.websocket.enabled is libbeat's
	for _, k := range configKeys(reflect.TypeOf(config{}), "") {
		for i := range k {
			if k[i] == '.' {
				known[k[:i]] = true // ssl: {} is ssl with no settings
			}
		}
		known[k] = true
	}
	for _, k := range givenKeys(cfg, "") {
		first, _, _ := strings.Cut(k, ".")
		switch {
		case known[k], first == "headers", first == "proxy_headers", first == "codec":
			// headers are names of the user's choice; codec is libbeat's.
		default:
			return fmt.Errorf("%s: not a setting of this output (the README lists them all)", k)
		}
	}
	return nil
}

// givenKeys lists the dotted keys set in cfg, relative to it (FlattenedKeys
// would give output.websocket.addr), lists counting as one key.
func givenKeys(cfg *common.Config, prefix string) []string {
	var keys []string
	for _, name := range cfg.GetFields() {
		if sub, err := cfg.Child(name, -1); err == nil && sub.IsDict() {
			keys = append(keys, givenKeys(sub, prefix+name+".")...)
			continue
		}
		keys = append(keys, prefix+name)
	}
	return keys
}

// configKeys lists the dotted keys of a config struct, sorted, from its
// config tags: it follows inline and nested structs and the ssl settings;
// codec is one key.
func configKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("config"), ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case opts == "inline":
			keys = append(keys, configKeys(ft, prefix)...)
		case ft.Kind() == reflect.Struct && ft != reflect.TypeOf(codec.Config{}):
			keys = append(keys, configKeys(ft, prefix+name+".")...)
		default:
			keys = append(keys, prefix+name)
		}
	}
	sort.Strings(keys)
	return keys
}

// checkHostPort checks the host and port of a server or proxy address:
// a host, and a port, if any, from 1 to 65535.
func checkHostPort(key, host, port string) error {
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
	if err := checkHostPort("addr", host, port); err != nil {
		return err
	}
	if strings.ContainsAny(c.Path, "?#") {
		return fmt.Errorf("path: %q has a query or fragment, which path would send escaped; give the server as hosts: [\"%s://%s%s\"] instead", c.Path, c.Schema, c.Addr, c.Path)
	}
	return nil
}

// checkURLHostPort checks the host and port of a URL from hosts or
// proxy_url; key names it.
func checkURLHostPort(key string, u *url.URL) error {
	return checkHostPort(key, u.Hostname(), u.Port())
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

// checkTLSFiles checks, before libbeat loads them, that the files the ssl
// settings name can be read, so that the error names the key; and that the
// CA pins are SHA-256 fingerprints, which libbeat compares as text at every
// handshake and never checks.
func checkTLSFiles(tls *tlscommon.Config) error {
	if !tls.IsEnabled() {
		return nil
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
	return nil
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

// jsonCodecKeys maps the keys of codec.json, as Filebeat documents them,
// to those Beats 7.17's json codec reads: its settings have no config
// tags, so it reads escapehtml and localtime and silently ignores
// escape_html and local_time.
var jsonCodecKeys = map[string]string{
	"pretty": "pretty", "escape_html": "escapehtml", "local_time": "localtime",
	"escapehtml": "escapehtml", "localtime": "localtime",
}

// codecConfig is the codec setting for libbeat's codec.CreateEncoder, with
// codec.json's keys as the json codec reads them. Unknown keys of
// codec.json are refused rather than ignored.
func (c *config) codecConfig() (codec.Config, error) {
	ns := c.Codec.Namespace
	if !ns.IsSet() || ns.Name() != "json" {
		return c.Codec, nil
	}
	settings := map[string]interface{}{}
	for _, k := range ns.Config().GetFields() {
		target, ok := jsonCodecKeys[k]
		if !ok {
			return codec.Config{}, fmt.Errorf("codec.json.%s: unknown setting, use pretty, escape_html or local_time", k)
		}
		v, err := ns.Config().Bool(k, -1)
		if err != nil {
			return codec.Config{}, fmt.Errorf("codec.json.%s: must be true or false", k)
		}
		settings[target] = v
	}
	cfg, err := common.NewConfigFrom(map[string]interface{}{"json": settings})
	if err != nil {
		return codec.Config{}, fmt.Errorf("codec.json: %w", err)
	}
	var out codec.Config
	if err := cfg.Unpack(&out); err != nil {
		return codec.Config{}, fmt.Errorf("codec.json: %w", err)
	}
	return out, nil
}
