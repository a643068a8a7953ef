package testbed

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/elastic/beats/v7/libbeat/common"
)

func TestFilebeatConfig_IsYAMLWithTheInputsOutputAndStatsEndpoint(t *testing.T) {
	yaml := FilebeatConfig{
		Inputs:   FilestreamInput("x", "/tmp/a.log", "/tmp/b.log"),
		Output:   WebSocketOutput("addr: 127.0.0.1:9\npath: /echo\nframe: batch"),
		HTTPPort: "5066",
		Settings: "queue.mem.events: 4096",
	}.YAML()
	cfg, err := common.NewConfigWithYAML([]byte(yaml), "testbed")
	if err != nil {
		t.Fatalf("%v:\n%s", err, yaml)
	}
	for key, want := range map[string]string{
		"output.websocket.addr":  "127.0.0.1:9",
		"output.websocket.frame": "batch",
		"http.port":              "5066",
		"logging.level":          "info",
	} {
		if got, err := cfg.String(key, -1); err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q in:\n%s", key, got, err, want, yaml)
		}
	}
	if n, err := cfg.Int("queue.mem.events", -1); err != nil || n != 4096 {
		t.Errorf("queue.mem.events = %d (%v), want 4096", n, err)
	}
	var inputs []struct {
		Type  string   `config:"type"`
		ID    string   `config:"id"`
		Paths []string `config:"paths"`
	}
	sub, err := cfg.Child("filebeat.inputs", -1)
	if err != nil || sub.Unpack(&inputs) != nil || len(inputs) != 1 || inputs[0].Type != "filestream" || len(inputs[0].Paths) != 2 {
		t.Fatalf("filebeat.inputs: %+v (%v) in:\n%s", inputs, err, yaml)
	}
}

// The metrics log line is off, unless the settings turn it on: then the
// configuration sets it once, with the settings' value. Set twice (once
// dotted), 9.5's go-ucfg calls it a duplicate key or not depending on the
// order it merges the two in: Filebeat exited at start every other run.
func TestFilebeatConfig_SettingsOfTheMetricsLogLineReplaceTheDefault(t *testing.T) {
	for _, tc := range []struct {
		settings string
		want     bool
	}{
		{"", false},
		{"logging.metrics: {enabled: true, period: 1s}", true},
	} {
		yaml := FilebeatConfig{Inputs: FilestreamInput("x", "/tmp/a.log"), Output: WebSocketOutput("addr: 127.0.0.1:9"), HTTPPort: "5066", Settings: tc.settings}.YAML()
		if n := strings.Count(yaml, "logging.metrics"); n != 1 {
			t.Fatalf("logging.metrics set %d times in:\n%s", n, yaml)
		}
		for range 50 {
			cfg, err := common.NewConfigWithYAML([]byte(yaml), "testbed")
			if err != nil {
				t.Fatalf("%v:\n%s", err, yaml)
			}
			if got, err := cfg.Bool("logging.metrics.enabled", -1); err != nil || got != tc.want {
				t.Fatalf("logging.metrics.enabled = %v (%v), want %v in:\n%s", got, err, tc.want, yaml)
			}
		}
	}
}

func TestWriteLines_WritesWholeNumberedLines(t *testing.T) {
	var b bytes.Buffer
	if err := WriteLines(&b, 5, 20005, Line); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 20000 || lines[0] != Line(5) || lines[19999] != Line(20004) || len(Line(7)) != LineLen || len(BenchLine(7)) != LineLen {
		t.Fatalf("%d lines, first %.20q, last %.20q", len(lines), lines[0], lines[len(lines)-1])
	}
}

func TestWaitAddr_EndsWhenTheReceiverExits(t *testing.T) {
	_, err := WaitAddr(t.TempDir()+"/addr", time.Minute, func() bool { return false })
	if err == nil || !strings.Contains(err.Error(), "exited before it listened") {
		t.Fatalf("WaitAddr for a receiver that exited: %v", err)
	}
}
