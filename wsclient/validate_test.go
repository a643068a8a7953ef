package wsclient

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// badValue is a configuration with one bad setting over a valid one
// (addr: 127.0.0.1:9; a nil value removes a key) and what the error must,
// and must not, say.
type badValue struct {
	settings map[string]interface{}
	want     []string // all must appear in the error
	absent   []string // none may appear in it: credentials
}

// badValues are the bad values of every key, wrong types included. notPEM
// is a file that exists and holds no PEM.
func badValues(notPEM string) []badValue {
	type settings = map[string]interface{}
	return append(lineBadValues(), []badValue{
		{settings{"schema": "http"}, []string{"schema", `"http"`}, nil},
		{settings{"workers": 0}, []string{"workers", "0"}, nil},
		{settings{"workers": -2}, []string{"workers", "-2"}, nil},
		{settings{"batch_size": 0}, []string{"batch_size", "0"}, nil},
		{settings{"retry_limit": -5}, []string{"retry_limit", "-5"}, nil},
		{settings{"addr": ""}, []string{"addr", "empty"}, nil},
		{settings{"addr": "ws://host:80"}, []string{"addr", `"ws://host:80"`}, nil},
		{settings{"addr": "host:80/path"}, []string{"addr", `"host:80/path"`}, nil},
		{settings{"path": "echo"}, []string{"path", `"echo"`}, nil},
		{settings{"ping_interval": "-1s"}, []string{"ping_interval", "-1s"}, nil},
		{settings{"ping_interval": -30}, []string{"ping_interval", "-30s"}, nil},
		{settings{"ping_timeout": "0s"}, []string{"ping_timeout", "0s"}, nil},
		{settings{"timeout": "-5s"}, []string{"timeout", "-5s"}, nil},
		{settings{"max_len": -1}, []string{"max_len", "-1"}, nil},
		{settings{"backoff.init": "-1s"}, []string{"backoff.init", "-1s"}, nil},
		{settings{"backoff.init": "10s", "backoff.max": "5s"}, []string{"backoff.max", "5s", "10s"}, nil},
		{settings{"ack.timeout": "0s"}, []string{"ack.timeout", "0s"}, nil},
		{settings{"ping_interval": "soon"}, []string{"ping_interval", "soon"}, nil},
		{settings{"frame": "lines"}, []string{"frame", `"lines"`}, nil},
		{settings{"opcode": "utf8"}, []string{"opcode", `"utf8"`}, nil},
		{settings{"frame": "batch", "codec.json.pretty": true}, []string{"codec.json.pretty", "frame: batch"}, nil},
		{settings{"codec.format": settings{}}, []string{"codec", "string"}, nil},
		{settings{"codec.xml": settings{}}, []string{"codec", "xml"}, nil},
		{settings{"frame": "batch", "codec.format.string": "%{[message]}\n"}, []string{"codec.format.string", "newline"}, nil},
		{settings{"compression_level": 0}, []string{"compression_level", "0"}, nil},
		{settings{"compression_level": 10}, []string{"compression_level", "10"}, nil},

		// Beats' names: the same checks, errors that name the key given,
		// and not both names of one setting.
		{settings{"worker": 0}, []string{"worker: 0"}, nil},
		{settings{"bulk_max_size": -1}, []string{"bulk_max_size: -1"}, nil},
		{settings{"max_retries": -5}, []string{"max_retries: -5"}, nil},
		{settings{"worker": "abc"}, []string{"worker", "'string' into 'int'"}, nil},
		{settings{"bulk_max_size": 1.5}, []string{"bulk_max_size", "1.5", "whole number"}, nil},
		{settings{"max_retries": []int{1}}, []string{"max_retries"}, nil},
		{settings{"worker": 4, "workers": 4}, []string{"output.websocket.worker: set together with workers", "the same setting"}, nil},
		{settings{"bulk_max_size": 50, "batch_size": 50}, []string{"output.websocket.bulk_max_size: set together with batch_size"}, nil},
		{settings{"max_retries": 1, "retry_limit": 2}, []string{"output.websocket.max_retries: set together with retry_limit"}, nil},

		// The server: hosts or addr, not both, not neither.
		{settings{"addr": nil}, []string{"hosts", "addr", "no server"}, nil},
		{settings{"addr": nil, "schema": "wss", "path": "/x"}, []string{"hosts", "addr", "no server"}, nil},
		{settings{"hosts": []string{"ws://a/x"}}, []string{"output.websocket.hosts: set together with addr"}, nil},
		{settings{"addr": nil, "hosts": []string{"ws://a/x"}, "path": "/y"}, []string{"output.websocket.hosts: set together with path"}, nil},
		{settings{"addr": nil, "hosts": []string{}}, []string{"hosts", "empty"}, nil},
		{settings{"addr": nil, "hosts": []string{"ws://a/x", "http://b/y"}}, []string{"hosts[1]", `"http"`}, nil},
		{settings{"addr": nil, "hosts": []string{"ws:///x"}}, []string{"hosts[0]", "no host"}, nil},
		{settings{"addr": nil, "hosts": []string{"wss://alice:s3cret@a/x"}}, []string{"hosts[0]", "username and password"}, []string{"s3cret"}},
		{settings{"addr": nil, "hosts": []string{"wss://alice:s3cret@a:x/y"}}, []string{"hosts[0]", "credentials in the URL are not supported"}, []string{"alice", "s3cret"}},

		// TLS.
		{settings{"ssl.certificate_authorities": []string{"/etc/ca.pem"}}, []string{"ssl", "ws://127.0.0.1:9/echo", "wss"}, nil},
		{settings{"schema": "wss", "ssl.certificate_authorities": []string{"/nonexistent/ca.pem"}}, []string{"ssl", "/nonexistent/ca.pem"}, nil},
		{settings{"schema": "wss", "ssl.certificate": "/etc/client.pem"}, []string{"key"}, nil},
		{settings{"schema": "wss", "ssl.verification_mode": "sometimes"}, []string{"verification_mode", "sometimes"}, nil},

		// Credentials: named, never shown.
		{settings{"headers.Upgrade": "h2c"}, []string{"headers.Upgrade", "handshake"}, nil},
		{settings{"headers.sec-websocket-protocol": "x"}, []string{"headers.sec-websocket-protocol", "ack.enabled"}, nil},
		{settings{"headers.Authorization": "Bearer s3cret\r\nX: y"}, []string{"headers.Authorization", "line break"}, []string{"s3cret"}},
		{settings{"headers.Authorization": "Bearer s3cret", "username": "alice"}, []string{"headers.Authorization", "username"}, []string{"s3cret"}},
		{settings{"password": "s3cret"}, []string{"password", "username"}, []string{"s3cret"}},

		{settings{"addr": nil, "hosts": []string{"localhost:8080"}}, []string{"hosts[0]", "full URL", "ws://localhost:8080/echo"}, nil},
		{settings{"addr": nil, "hosts": []string{"wss://a/x?access_token=s3cret#frag"}}, []string{"hosts[0]", "fragment", "access_token=xxxxx"}, []string{"s3cret"}},

		// Proxies.
		{settings{"proxy_url": "ftp://proxy:21"}, []string{"proxy_url", `"ftp"`}, nil},
		{settings{"proxy_url": "http://user:pa ss3cret@proxy:3128"}, []string{"proxy_url", "not a URL"}, []string{"ss3cret"}},
		{settings{"proxy_url": "http://user:p#ss3cret@proxy:3128"}, []string{"proxy_url"}, []string{"ss3cret"}},
		{settings{"proxy_url": "http://user:%ts3cret@proxy:3128"}, []string{"proxy_url"}, []string{"s3cret"}},

		// Wrong types and values go-ucfg would convert, for every key.
		{settings{"workers": "abc"}, []string{"workers", "'string' into 'int'"}, nil},
		{settings{"workers": 1.5}, []string{"workers", "1.5", "whole number"}, nil},
		{settings{"max_len": 0.5}, []string{"max_len", "0.5", "whole number"}, nil},
		{settings{"ack.enable": true}, []string{"ack.enable", "not a setting"}, nil},
		{settings{"pipelining": 2}, []string{"pipelining", "not a setting"}, nil}, // the Logstash output's
		{settings{"schema": "wss", "ssl.verify": "none"}, []string{"ssl.verify", "not a setting"}, nil},
		{settings{"batch_size": []int{1}}, []string{"batch_size"}, nil},
		{settings{"retry_limit": "forever"}, []string{"retry_limit", "'string' into 'int'"}, nil},
		{settings{"retry_limit": true}, []string{"retry_limit"}, nil},
		{settings{"addr": nil, "hosts": 5}, []string{"hosts[0]", "full URL"}, nil},
		{settings{"addr": nil, "hosts": settings{"a": "ws://a/x"}}, []string{"hosts", "not an object"}, nil},
		{settings{"addr": nil, "hosts": []interface{}{settings{"url": "ws://a/x"}}}, []string{"output.websocket.hosts[0]: can not convert"}, nil},
		{settings{"addr": nil, "hosts": []string{"ws://a:99999/x"}}, []string{"hosts[0]", `"99999"`}, nil},
		{settings{"addr": nil, "hosts": []string{"ws://a b/x"}}, []string{"hosts[0]", "not a URL"}, nil},
		{settings{"loadbalance": "x"}, []string{"loadbalance", "'string' into 'bool'"}, nil},
		{settings{"loadbalance": 3}, []string{"loadbalance"}, nil},
		{settings{"schema": 5}, []string{"schema", `"5"`}, nil},
		{settings{"schema": []string{"ws"}}, []string{"schema"}, nil},
		{settings{"addr": 80}, []string{"addr", `"80"`, "host:port"}, nil},
		{settings{"addr": "localhost"}, []string{"addr", `"localhost"`, "host:port"}, nil},
		{settings{"addr": "localhost:"}, []string{"addr", `"localhost:"`, "no port"}, nil},
		{settings{"addr": ":8080"}, []string{"addr", "no host"}, nil},
		{settings{"addr": "localhost:99999"}, []string{"addr", `"99999"`}, nil},
		{settings{"addr": "localhost:http"}, []string{"addr", `"http"`}, nil},
		{settings{"addr": "a b:80"}, []string{"addr", `"a b"`}, nil},
		{settings{"addr": []string{"a:1"}}, []string{"addr"}, nil},
		{settings{"path": settings{"a": 1}}, []string{"path"}, nil},
		{settings{"path": "/in?tenant=blue"}, []string{"path", `"/in?tenant=blue"`, "hosts"}, nil},
		{settings{"headers": []string{"a", "b"}}, []string{"headers", "not a list"}, nil},
		{settings{"headers": "Authorization: Bearer s3cret"}, []string{"headers"}, []string{"s3cret"}},
		{settings{"headers": settings{"X": settings{"y": 1}}}, []string{"headers.X"}, nil},
		{settings{"headers": settings{"Bad Header": "s3cret"}}, []string{"headers", `"Bad Header"`}, []string{"s3cret"}},
		{settings{"username": []string{"a"}}, []string{"username"}, nil},
		{settings{"username": "alice:x", "password": "s3cret"}, []string{"username", `":"`}, []string{"s3cret"}},
		{settings{"username": "alice", "password": []string{"s3cret"}}, []string{"password"}, []string{"s3cret"}},
		{settings{"proxy_url": []string{"http://proxy:3128"}}, []string{"proxy_url"}, nil},
		{settings{"proxy_url": "http://user:s3cret@proxy:99999"}, []string{"proxy_url", `"99999"`}, []string{"s3cret"}},
		{settings{"proxy_headers": "X-Tenant: blue"}, []string{"proxy_headers"}, nil},
		{settings{"proxy_headers": []string{"a"}}, []string{"proxy_headers", "not a list"}, nil},
		{settings{"proxy_headers": settings{"Proxy-Authorization": "Basic s3cret\r\nX: y"}}, []string{"proxy_headers.Proxy-Authorization", "line break"}, []string{"s3cret"}},
		{settings{"proxy_headers": settings{"Bad Header": "x"}}, []string{"proxy_headers", `"Bad Header"`}, nil},
		{settings{"proxy_disable": "x"}, []string{"proxy_disable", "'string' into 'bool'"}, nil},
		{settings{"proxy_disable": 2}, []string{"proxy_disable"}, nil},
		{settings{"compression": "maybe"}, []string{"compression", "'string' into 'bool'"}, nil},
		{settings{"compression": 2}, []string{"compression"}, nil},
		{settings{"compression_level": "best"}, []string{"compression_level", "'string' into 'int'"}, nil},
		{settings{"ping_interval": true}, []string{"ping_interval"}, nil},
		{settings{"ping_timeout": "soon"}, []string{"ping_timeout", "soon"}, nil},
		{settings{"timeout": "soon"}, []string{"timeout", "soon"}, nil},
		{settings{"timeout": []int{1}}, []string{"timeout"}, nil},
		{settings{"max_len": "big"}, []string{"max_len", "'string' into 'int'"}, nil},
		{settings{"frame": 5}, []string{"frame", `"5"`}, nil},
		{settings{"frame": []string{"event"}}, []string{"frame"}, nil},
		{settings{"codec": "json"}, []string{"codec"}, nil},
		{settings{"codec.json": "yes"}, []string{"codec.json"}, nil},
		{settings{"codec.json.pretty": "yes"}, []string{"codec.json.pretty"}, nil},
		{settings{"codec.json.escape_html": 3}, []string{"codec.json.escape_html", "true or false"}, nil},
		{settings{"codec.json.local_time": "x"}, []string{"codec.json.local_time", "true or false"}, nil},
		{settings{"codec.json.escape": true}, []string{"codec.json.escape", "unknown"}, nil},
		{settings{"codec.format.string": "%{[message]"}, []string{"codec.format.string"}, nil},
		{settings{"codec.json": settings{}, "codec.format.string": "%{[message]}"}, []string{"codec", "namespace"}, nil},
		{settings{"opcode": 1}, []string{"opcode", `"1"`}, nil},
		{settings{"opcode": []string{"text"}}, []string{"opcode"}, nil},
		{settings{"backoff": "1s"}, []string{"backoff"}, nil},
		{settings{"backoff.init": "x"}, []string{"backoff.init", `"x"`}, nil},
		{settings{"backoff.max": "x"}, []string{"backoff.max", `"x"`}, nil},
		{settings{"backoff.max": true}, []string{"backoff.max"}, nil},
		{settings{"ack": true}, []string{"ack"}, nil},
		{settings{"ack.enabled": 3}, []string{"ack.enabled", "'uint' into 'bool'"}, nil},
		{settings{"ack.enabled": "x"}, []string{"ack.enabled", "'string' into 'bool'"}, nil},
		{settings{"ack.timeout": "x"}, []string{"ack.timeout", `"x"`}, nil},
		{settings{"ack.timeout": -1}, []string{"ack.timeout", "-1s"}, nil},

		// Every ssl setting, with a wss:// server.
		{settings{"ssl": "on"}, []string{"ssl", "not a single value"}, []string{"goroutine"}},
		{settings{"ssl.enabled": "x"}, []string{"ssl.enabled", "'string' into 'bool'"}, nil},
		{settings{"schema": "wss", "ssl.certificate_authorities": 5}, []string{"ssl.certificate_authorities[0]", "open 5"}, nil},
		{settings{"schema": "wss", "ssl.certificate_authorities": []string{notPEM}}, []string{"ssl", notPEM, "not a certificate"}, nil},
		{settings{"schema": "wss", "ssl.verification_mode": 5}, []string{"ssl.verification_mode"}, nil},
		{settings{"schema": "wss", "ssl.certificate": "/nonexistent/client.pem", "ssl.key": "/nonexistent/client-key.pem"}, []string{"ssl.certificate", "/nonexistent/client.pem"}, nil},
		{settings{"schema": "wss", "ssl.certificate": notPEM, "ssl.key": "/nonexistent/client-key.pem"}, []string{"ssl.key", "/nonexistent/client-key.pem"}, nil},
		{settings{"schema": "wss", "ssl.certificate": notPEM, "ssl.key": notPEM}, []string{"ssl", notPEM, "pem"}, nil},
		{settings{"schema": "wss", "ssl.key": "/etc/client-key.pem"}, []string{"ssl", "certificate"}, nil},
		{settings{"schema": "wss", "ssl.key_passphrase": []string{"s3cret"}}, []string{"ssl.key_passphrase"}, []string{"s3cret"}},
		{settings{"schema": "wss", "ssl.supported_protocols": []string{"TLSv9"}}, []string{"ssl.supported_protocols", "TLSv9"}, nil},
		{settings{"schema": "wss", "ssl.cipher_suites": []string{"NOPE"}}, []string{"ssl.cipher_suites", "NOPE"}, nil},
		{settings{"schema": "wss", "ssl.curve_types": []string{"P-999"}}, []string{"ssl.curve_types", "P-999"}, nil},
		{settings{"schema": "wss", "ssl.ca_sha256": []string{"not base64!"}}, []string{"ssl.ca_sha256[0]", `"not base64!"`}, nil},
		{settings{"schema": "wss", "ssl.ca_sha256": 5}, []string{"ssl.ca_sha256[0]", `"5"`}, nil},
		{settings{"schema": "wss", "ssl.renegotiation": "always"}, []string{"ssl.renegotiation", "always"}, nil},
	}...)
}

// writeNotPEM writes a file that is not PEM, for the ssl file settings.
func writeNotPEM(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(path, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMakeOutput_RejectsBadValuesNamingKeyAndValue(t *testing.T) {
	for _, tc := range badValues(writeNotPEM(t)) {
		full := withAddr(tc.settings)
		_, err := load(t, full)
		if err == nil {
			t.Errorf("%v: accepted", tc.settings)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not contain %q", tc.settings, err, w)
			}
		}
		for _, a := range tc.absent {
			if strings.Contains(err.Error(), a) {
				t.Errorf("%v: error %q shows %q", tc.settings, err, a)
			}
		}
	}
}

// A key added to config without a bad value in the table fails here.
func TestMakeOutput_RejectsBadValuesOfEveryKey(t *testing.T) {
	cases := badValues("")
	for _, key := range configKeys(reflect.TypeOf(config{}), "") {
		covered := false
		for _, tc := range cases {
			for k, v := range tc.settings {
				covered = covered || v != nil && (k == key || strings.HasPrefix(k, key+"."))
			}
		}
		if !covered {
			t.Errorf("%s: no bad value in badValues", key)
		}
	}
}
