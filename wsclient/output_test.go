package wsclient

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/elastic/beats/v7/libbeat/outputs"
	"github.com/elastic/beats/v7/libbeat/outputs/codec"
	"github.com/elastic/beats/v7/libbeat/outputs/outest"

	"github.com/beats-websocket/websocket-output/transport"
	"github.com/beats-websocket/websocket-output/transport/wstest"
)

// The plugin registers the factory at load time (plugin.go); the tests
// register it the same way, then go through libbeat's registry.
func init() {
	outputs.RegisterType("websocket", MakeOutput)
}

func load(t *testing.T, settings map[string]interface{}) (outputs.Group, error) {
	t.Helper()
	cfg, err := newConfigFrom(settings)
	if err != nil {
		t.Fatal(err)
	}
	return loadConfig(t, cfg)
}

// loadConfig loads the output through libbeat's registry, as Filebeat
// does, and closes its clients when the test ends.
func loadConfig(t *testing.T, cfg *rawConfig) (outputs.Group, error) {
	t.Helper()
	group, err := loadOutput(cfg)
	t.Cleanup(func() {
		for _, c := range group.Clients {
			c.Close()
		}
	})
	return group, err
}

func unpack(t *testing.T, yaml string) (config, error) {
	t.Helper()
	cfg, err := newConfigWithYAML([]byte(yaml), "test")
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
		Workers:          1,
		BatchSize:        2048,
		RetryLimit:       3,
		Schema:           "ws",
		Path:             "/echo",
		PingInterval:     30 * time.Second,
		PingTimeout:      10 * time.Second,
		Timeout:          30 * time.Second,
		MaxLen:           0,
		Frame:            "event",
		Opcode:           "text",
		Backoff:          backoffConfig{Init: time.Second, Max: time.Minute},
		Ack:              ackConfig{Enabled: false, Timeout: 30 * time.Second},
		CompressionLevel: 1,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("defaults\n got %+v\nwant %+v", got, want)
	}
}

func TestConfig_AddrWithSchemaAndPathOrHostsNameTheServers(t *testing.T) {
	for yaml, want := range map[string]string{
		`addr: "localhost:8080"`:                          "ws://localhost:8080/echo",
		`{schema: wss, addr: "logs:443", path: /in}`:      "wss://logs:443/in",
		`hosts: ["wss://a.example/x", "ws://b:81/y?t=1"]`: "wss://a.example/x ws://b:81/y?t=1",
	} {
		c, err := unpack(t, yaml)
		if err != nil {
			t.Fatalf("%s: %v", yaml, err)
		}
		var got []string
		for _, u := range c.urls() {
			got = append(got, u.String())
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s: URLs %q, want %s", yaml, got, want)
		}
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

func TestMakeOutput_WorkersPerHostLoadBalancedOrFailingOver(t *testing.T) {
	hosts := []string{"ws://127.0.0.1:9/a", "wss://127.0.0.1:10/b"}
	names := func(g outputs.Group) []string {
		var n []string
		for _, c := range g.Clients {
			n = append(n, c.String())
		}
		sort.Strings(n)
		return n
	}
	lb, err := load(t, map[string]interface{}{"hosts": hosts, "workers": 2, "loadbalance": true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"websocket(ws://127.0.0.1:9/a)", "websocket(ws://127.0.0.1:9/a)", "websocket(wss://127.0.0.1:10/b)", "websocket(wss://127.0.0.1:10/b)"}
	if got := names(lb); !slices.Equal(got, want) {
		t.Errorf("loadbalance: clients %q, want %q", got, want)
	}
	fo, err := load(t, map[string]interface{}{"hosts": hosts, "workers": 2})
	if err != nil {
		t.Fatal(err)
	}
	failover := "failover(websocket(ws://127.0.0.1:9/a),websocket(wss://127.0.0.1:10/b))"
	if got := names(fo); !slices.Equal(got, []string{failover, failover}) {
		t.Errorf("failover: clients %q, want two %s", got, failover)
	}
}

// codecConfig returns a codec setting as it would be read from yaml under codec.
func codecConfig(t *testing.T, yaml string) codec.Config {
	t.Helper()
	cfg, err := newConfigWithYAML([]byte(yaml), "test")
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
	if _, err := load(t, map[string]interface{}{"addr": "127.0.0.1:9", "frame": "event", "codec.json.pretty": true}); err != nil {
		t.Fatal(err)
	}
}

func TestFailover_UsesTheOtherHostWhenOneIsDownAndCloseEndsBoth(t *testing.T) {
	live := wstest.New(t, nil)
	down := wstest.New(t, nil)
	down.Stop() // its port refuses connections
	group, err := load(t, map[string]interface{}{
		"hosts":        []string{"ws://" + down.Addr() + "/ws", "ws://" + live.Addr() + "/ws"},
		"backoff.init": "50ms", "backoff.max": "100ms",
	})
	if err != nil {
		t.Fatal(err)
	}
	c := group.Clients[0].(outputs.NetworkClient)
	// libbeat's failover client alternates between two hosts: the second
	// attempt at the latest reaches the live one.
	if err := connect(c); err != nil {
		if err := connect(c); err != nil {
			t.Fatalf("neither host connected: %v", err)
		}
	}
	batch := batchOf(2)
	if err := c.Publish(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	live.Receive(2)
	if got := onlySignal(t, batch); got.Tag != outest.BatchACK {
		t.Fatalf("batch got %v, want ACK", got.Tag)
	}

	c.Close()
	for i := 0; i < 2; i++ { // one attempt per host
		if err := connect(c); !errors.Is(err, transport.ErrClosed) {
			t.Fatalf("Connect after Close: %v, want %v", err, transport.ErrClosed)
		}
	}
}

func TestMakeOutput_AcceptsSSLForAnHTTPSProxyInFrontOfAWSServer(t *testing.T) {
	if _, err := load(t, map[string]interface{}{
		"addr": "127.0.0.1:9", "proxy_url": "https://proxy:3128", "ssl.verification_mode": "none",
	}); err != nil {
		t.Fatal(err)
	}
}

func TestClient_NameMasksQueryValuesAndPasswords(t *testing.T) {
	group, err := load(t, map[string]interface{}{"hosts": []string{"wss://logs:443/in?access_token=s3cret&tenant=blue"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := group.Clients[0].String(), "websocket(wss://logs:443/in?access_token=xxxxx&tenant=xxxxx)"; got != want {
		t.Fatalf("client name %q, want %q", got, want)
	}
}
