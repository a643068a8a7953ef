package wsclient

import (
	"strings"
	"testing"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/outputs"
)

func TestMakeOutput_AcceptsValidValuesTheChecksCouldMistake(t *testing.T) {
	type settings = map[string]interface{}
	pin := "x0SjUwdwrAv9DpJ7bgs7s1Pc8Lm8Mh+f0J6TtBfTsLo=" // base64 of 32 bytes
	for _, s := range []settings{
		{"addr": "[::1]:8080", "enabled": true, "workers": 2.0},
		{"addr": "logs.example.com:443", "schema": "wss", "path": "/in/logs"},
		{"hosts": []string{"ws://[::1]:8080/x", "wss://logs.example.com/in?tenant=blue"}},
		{"addr": "127.0.0.1:9", "headers": settings{"X-Tenant": "blue", "Authorization": "Bearer t0k"}},
		{"addr": "127.0.0.1:9", "username": "alice", "password": "pa:ss"},
		{"addr": "127.0.0.1:9", "proxy_url": "socks5://proxy:1080", "proxy_headers": settings{"X-Tenant": "blue"}},
		{"addr": "127.0.0.1:9", "schema": "wss", "ssl.ca_sha256": []string{pin}},
		{"addr": "127.0.0.1:9", "codec.json": settings{"pretty": true, "escape_html": true, "local_time": true}},
		{"addr": "127.0.0.1:9", "codec.format.string": "%{[message]}"},
	} {
		if _, err := load(t, s); err != nil {
			t.Errorf("%v: %v", s, err)
		}
		// As Filebeat passes it: output.websocket of the whole configuration.
		if _, err := loadNested(t, s); err != nil {
			t.Errorf("%v as output.websocket: %v", s, err)
		}
	}
}

// loadNested is load with the settings as output.websocket of a larger
// configuration, as Filebeat gives them.
func loadNested(t *testing.T, settings map[string]interface{}) (outputs.Group, error) {
	t.Helper()
	root, err := newConfigFrom(map[string]interface{}{"output": map[string]interface{}{"websocket": settings}})
	if err != nil {
		t.Fatal(err)
	}
	return loadConfig(t, outputWebsocket(t, root))
}

// libbeat's json codec (7.17's and 9.5's) reads escapehtml and localtime and ignores the
// documented escape_html and local_time; the output passes them on.
func TestCodecJSON_EscapeHTMLAndLocalTimeTakeEffect(t *testing.T) {
	// local_time keeps the event's zone, as Filebeat's events have the
	// local one, instead of converting to UTC.
	zone := time.FixedZone("JST", 9*60*60)
	ev := &beat.Event{Timestamp: time.Date(2024, 3, 1, 12, 0, 0, 0, zone), Fields: mapStr{"message": "<a href=x>&</a>"}}
	for _, tc := range []struct {
		yaml string
		want string
	}{
		{"codec.json: {}", `"message":"<a href=x>&</a>"`},
		{"codec.json.escape_html: true", `"message":"\u003ca href=x\u003e\u0026\u003c/a\u003e"`},
		{"codec.json.escape_html: false", `"message":"<a href=x>&</a>"`},
		{"codec.json.local_time: true", `"@timestamp":"2024-03-01T12:00:00.000+09:00"`},
		{"codec.json.local_time: false", `"@timestamp":"2024-03-01T03:00:00.000Z"`},
	} {
		c, err := unpack(t, "addr: 127.0.0.1:9\n"+tc.yaml)
		if err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		enc, err := newEncoder(c, beat.Info{Beat: "filebeat", Version: testBeatsVersion})
		if err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		out, err := enc.Append(nil, ev)
		if err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: encoded %s, want %s in it", tc.yaml, out, tc.want)
		}
	}
}

// outputWebsocket is output.websocket of a whole configuration, as
// Filebeat hands it to the factory.
func outputWebsocket(t *testing.T, root *rawConfig) *rawConfig {
	t.Helper()
	output, err := root.Child("output", -1)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := output.Child("websocket", -1)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// withAddr is settings over a minimal valid configuration (addr), a nil
// value removing the key.
func withAddr(settings map[string]interface{}) map[string]interface{} {
	full := map[string]interface{}{"addr": "127.0.0.1:9"}
	for k, v := range settings {
		if v == nil {
			delete(full, k)
		} else {
			full[k] = v
		}
	}
	return full
}
