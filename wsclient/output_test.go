package wsclient

import (
	"strings"
	"testing"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/common"
	"github.com/elastic/beats/v7/libbeat/outputs"
	"github.com/elastic/beats/v7/libbeat/outputs/codec"
)

// The plugin registers the factory at load time (plugin.go); the tests
// register it the same way, then go through libbeat's registry.
func init() {
	outputs.RegisterType("websocket", MakeOutput)
}

func load(t *testing.T, settings map[string]interface{}) (outputs.Group, error) {
	t.Helper()
	cfg, err := common.NewConfigFrom(settings)
	if err != nil {
		t.Fatal(err)
	}
	group, err := outputs.Load(nil, beat.Info{Beat: "filebeat"}, nil, "websocket", cfg)
	t.Cleanup(func() {
		for _, c := range group.Clients {
			c.Close()
		}
	})
	return group, err
}

func unpack(t *testing.T, yaml string) (config, error) {
	t.Helper()
	cfg, err := common.NewConfigWithYAML([]byte(yaml), "test")
	if err != nil {
		t.Fatal(err)
	}
	c := defaultConfig()
	err = cfg.Unpack(&c)
	return c, err
}

func TestConfig_DefaultsAreTheOriginalDesignsWithSafeTimeouts(t *testing.T) {
	got, err := unpack(t, "{}")
	if err != nil {
		t.Fatal(err)
	}
	want := config{
		Workers:      1,
		BatchSize:    2048,
		RetryLimit:   3,
		Schema:       "ws",
		Addr:         "localhost:8080",
		Path:         "/echo",
		PingInterval: 30 * time.Second,
		PingTimeout:  10 * time.Second,
		Timeout:      30 * time.Second,
		MaxLen:       0,
		Frame:        "event",
		Opcode:       "text",
		Backoff:      backoffConfig{Init: time.Second, Max: time.Minute},
		Ack:          ackConfig{Enabled: false, Timeout: 30 * time.Second},
	}
	if got != want {
		t.Fatalf("defaults\n got %+v\nwant %+v", got, want)
	}
	if u := got.url().String(); u != "ws://localhost:8080/echo" {
		t.Fatalf("default URL %s", u)
	}
}

func TestConfig_DurationsAcceptSecondsOrDurationStrings(t *testing.T) {
	got, err := unpack(t, `
ping_interval: 15
ping_timeout: "2500ms"
timeout: 1.5
backoff: {init: "250ms", max: 120}
`)
	if err != nil {
		t.Fatal(err)
	}
	if got.PingInterval != 15*time.Second || got.PingTimeout != 2500*time.Millisecond ||
		got.Timeout != 1500*time.Millisecond || got.Backoff.Init != 250*time.Millisecond || got.Backoff.Max != 2*time.Minute {
		t.Fatalf("durations: %+v", got)
	}
}

func TestConfig_ZeroPingIntervalDisablesPings(t *testing.T) {
	got, err := unpack(t, "ping_interval: 0")
	if err != nil || got.PingInterval != 0 {
		t.Fatalf("ping_interval 0: %v, %v", got.PingInterval, err)
	}
}

func TestMakeOutput_RejectsBadValuesNamingKeyAndValue(t *testing.T) {
	cases := []struct {
		settings map[string]interface{}
		want     []string // all must appear in the error
	}{
		{map[string]interface{}{"schema": "http"}, []string{"schema", `"http"`}},
		{map[string]interface{}{"workers": 0}, []string{"workers", "0"}},
		{map[string]interface{}{"workers": -2}, []string{"workers", "-2"}},
		{map[string]interface{}{"batch_size": 0}, []string{"batch_size", "0"}},
		{map[string]interface{}{"retry_limit": -5}, []string{"retry_limit", "-5"}},
		{map[string]interface{}{"addr": ""}, []string{"addr", "empty"}},
		{map[string]interface{}{"addr": "ws://host:80"}, []string{"addr", `"ws://host:80"`}},
		{map[string]interface{}{"addr": "host:80/path"}, []string{"addr", `"host:80/path"`}},
		{map[string]interface{}{"path": "echo"}, []string{"path", `"echo"`}},
		{map[string]interface{}{"ping_interval": "-1s"}, []string{"ping_interval", "-1s"}},
		{map[string]interface{}{"ping_interval": -30}, []string{"ping_interval", "-30s"}},
		{map[string]interface{}{"ping_timeout": "0s"}, []string{"ping_timeout", "0s"}},
		{map[string]interface{}{"timeout": "-5s"}, []string{"timeout", "-5s"}},
		{map[string]interface{}{"max_len": -1}, []string{"max_len", "-1"}},
		{map[string]interface{}{"backoff.init": "-1s"}, []string{"backoff.init", "-1s"}},
		{map[string]interface{}{"backoff.init": "10s", "backoff.max": "5s"}, []string{"backoff.max", "5s", "10s"}},
		{map[string]interface{}{"ack.timeout": "0s"}, []string{"ack.timeout", "0s"}},
		{map[string]interface{}{"ping_interval": "soon"}, []string{"ping_interval", "soon"}},
		{map[string]interface{}{"frame": "lines"}, []string{"frame", `"lines"`}},
		{map[string]interface{}{"opcode": "utf8"}, []string{"opcode", `"utf8"`}},
		{map[string]interface{}{"frame": "batch", "codec.json.pretty": true}, []string{"codec.json.pretty", "frame: batch"}},
		{map[string]interface{}{"codec.format": map[string]interface{}{}}, []string{"codec", "string"}},
		{map[string]interface{}{"codec.xml": map[string]interface{}{}}, []string{"codec", "xml"}},
		{map[string]interface{}{"frame": "batch", "codec.format.string": "%{[message]}\n"}, []string{"codec.format.string", "newline"}},
		{map[string]interface{}{"worker": 4}, []string{"worker", "workers"}},
	}
	for _, tc := range cases {
		_, err := load(t, tc.settings)
		if err == nil {
			t.Errorf("%v: accepted", tc.settings)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not contain %q", tc.settings, err, w)
			}
		}
	}
}

func TestMakeOutput_OneClientPerWorkerWithBatchSizeAndRetryLimit(t *testing.T) {
	group, err := load(t, map[string]interface{}{
		"workers": 3, "batch_size": 100, "retry_limit": -1, "addr": "127.0.0.1:9", "path": "/in",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(group.Clients) != 3 || group.BatchSize != 100 || group.Retry != -1 {
		t.Fatalf("group: %d clients, batch size %d, retry %d", len(group.Clients), group.BatchSize, group.Retry)
	}
	for _, c := range group.Clients {
		if _, ok := c.(outputs.NetworkClient); !ok {
			t.Fatalf("client %T is not a NetworkClient: libbeat would not reconnect it", c)
		}
		if got := c.String(); got != "websocket(ws://127.0.0.1:9/in)" {
			t.Fatalf("client name %q", got)
		}
	}
}

// codecConfig returns a codec setting as it would be read from yaml under codec.
func codecConfig(t *testing.T, yaml string) codec.Config {
	t.Helper()
	cfg, err := common.NewConfigWithYAML([]byte(yaml), "test")
	if err != nil {
		t.Fatal(err)
	}
	var c codec.Config
	if err := cfg.Unpack(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMakeOutput_PrettyJSONIsFineWithEventFrames(t *testing.T) {
	if _, err := load(t, map[string]interface{}{"frame": "event", "codec.json.pretty": true}); err != nil {
		t.Fatal(err)
	}
}
