package wsclient

// The Beats 7.17 line's part of the tests: what its libbeat names or calls
// differently from 9.5's (beats95/wsclient/line_test.go). The other test
// files, but for bench_test.go and docs_test.go, are shared by both lines.

import (
	"testing"

	"go.uber.org/zap/zaptest/observer"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/common"
	"github.com/elastic/beats/v7/libbeat/logp"
	"github.com/elastic/beats/v7/libbeat/monitoring"
	"github.com/elastic/beats/v7/libbeat/outputs"
	beattest "github.com/elastic/beats/v7/libbeat/testing"
)

// testBeatsVersion is the Beats version the tests give as beat.Info's.
const testBeatsVersion = "7.17.29"

type (
	mapStr       = common.MapStr
	beatTestable = beattest.Testable
)

var (
	newConfigWithYAML          = common.NewConfigWithYAML
	newConsoleDriverWithKiller = beattest.NewConsoleDriverWithKiller
)

// lineBadValues are bad values of the settings only this line has: none.
func lineBadValues() []badValue { return nil }

// connect calls Connect as libbeat does, on a Client or libbeat's
// failover client.
func connect(c outputs.NetworkClient) error { return c.Connect() }

// newTestingLogger is a logger for one test, with what it logged.
func newTestingLogger(testing.TB) (*logger, *observer.ObservedLogs) {
	return logp.NewTesting("websocket")
}

// loadOutput loads output.websocket through libbeat's registry, as
// Filebeat does.
func loadOutput(cfg *rawConfig) (outputs.Group, error) {
	return outputs.Load(nil, beat.Info{Beat: "filebeat"}, nil, "websocket", cfg)
}

// observeOutputLogs returns what the outputs that loadOutput loads from
// now on log: 7.17's factory logs through the global logger.
func observeOutputLogs(t testing.TB) *observer.ObservedLogs {
	t.Helper()
	if err := logp.DevelopmentSetup(logp.ToObserverOutput()); err != nil {
		t.Fatal(err)
	}
	return logp.ObserverLogs()
}

// loadMonitoredOutput loads output.websocket as Filebeat's pipeline does,
// with libbeat's Observer on libbeat.output in the global registry, which
// it clears first as libbeat does for each output it loads (at start and
// at each reload). metric reads a metric of libbeat.output by its name
// there ("websocket.connections.open_gauge"): 0 if it has none.
func loadMonitoredOutput(t *testing.T, cfg *rawConfig) (group outputs.Group, metric func(name string) int64) {
	t.Helper()
	libbeat := monitoring.Default.GetRegistry("libbeat")
	if libbeat == nil {
		libbeat = monitoring.Default.NewRegistry("libbeat")
	}
	out := libbeat.GetRegistry("output")
	if out == nil {
		out = libbeat.NewRegistry("output")
	}
	if err := out.Clear(); err != nil {
		t.Fatal(err)
	}
	group, err := outputs.Load(nil, beat.Info{Beat: "filebeat"}, outputs.NewStats(out), "websocket", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return group, func(name string) int64 {
		return monitoring.CollectFlatSnapshot(out, monitoring.Full, false).Ints[name]
	}
}

// pipelineObserver is an Observer of the kind libbeat's pipeline gives the
// output factory: its Stats, on a registry of their own.
func pipelineObserver(testing.TB) outputs.Observer {
	return outputs.NewStats(monitoring.NewRegistry())
}
