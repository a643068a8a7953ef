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
