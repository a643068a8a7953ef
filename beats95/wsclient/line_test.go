package wsclient

// The Beats 9.5 line's part of the tests: what its libbeat names or calls
// differently from 7.17's (wsclient/line_test.go in the root module). The
// other test files are links to the root module's.

import (
	"context"
	"testing"

	"go.uber.org/zap/zaptest/observer"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/outputs"
	conf "github.com/elastic/elastic-agent-libs/config"
	"github.com/elastic/elastic-agent-libs/logp"
	"github.com/elastic/elastic-agent-libs/logp/logptest"
	"github.com/elastic/elastic-agent-libs/mapstr"
	"github.com/elastic/elastic-agent-libs/monitoring"
	beattest "github.com/elastic/elastic-agent-libs/testing"
)

// testBeatsVersion is the Beats version the tests give as beat.Info's.
const testBeatsVersion = "9.5.0"

type (
	mapStr       = mapstr.M
	beatTestable = beattest.Testable
)

var (
	newConfigWithYAML          = conf.NewConfigWithYAML
	newConsoleDriverWithKiller = beattest.NewConsoleDriverWithKiller
)

// lineBadValues are bad values of the ssl settings 9.5 has and 7.17 has
// not.
func lineBadValues() []badValue {
	return []badValue{
		{map[string]interface{}{"schema": "wss", "ssl.ca_trusted_fingerprint": "nope"}, []string{"ssl.ca_trusted_fingerprint", `"nope"`}, nil},
		{map[string]interface{}{"schema": "wss", "ssl.key_passphrase_path": "/nonexistent/passphrase"}, []string{"ssl.key_passphrase_path", "/nonexistent/passphrase"}, nil},
	}
}

// connect calls Connect as libbeat does, on a Client or libbeat's
// failover client.
func connect(c outputs.NetworkClient) error { return c.Connect(context.Background()) }

// newTestingLogger is a logger for one test, with what it logged.
func newTestingLogger(t testing.TB) (*logger, *observer.ObservedLogs) {
	return logptest.NewTestingLoggerWithObserver(t, "websocket")
}

// outputLogger is the logger loadOutput gives the outputs it loads, as
// Filebeat gives its own in beat.Info; nil: a new one.
var outputLogger *logp.Logger

// loadOutput loads output.websocket through libbeat's registry, as
// Filebeat does.
func loadOutput(cfg *rawConfig) (outputs.Group, error) {
	log := outputLogger
	if log == nil {
		log = logp.NewLogger("")
	}
	return outputs.Load(nil, beat.Info{Beat: "filebeat", Logger: log}, nil, "websocket", cfg, nil)
}

// observeOutputLogs returns what the outputs that loadOutput loads log
// until the test ends: 9.5's factory logs through beat.Info's logger.
func observeOutputLogs(t testing.TB) *observer.ObservedLogs {
	t.Helper()
	log, logs := logptest.NewTestingLoggerWithObserver(t, "")
	outputLogger = log
	t.Cleanup(func() { outputLogger = nil })
	return logs
}

// loadMonitoredOutput loads output.websocket as Filebeat's pipeline does,
// with libbeat's Observer on libbeat.output in the global registry, which
// it clears first as libbeat does for each output it loads (at start and
// at each reload). metric reads a metric of libbeat.output by its name
// there ("websocket.connections.open_gauge"): 0 if it has none.
func loadMonitoredOutput(t *testing.T, cfg *rawConfig) (group outputs.Group, metric func(name string) int64) {
	t.Helper()
	out := monitoring.Default.GetOrCreateRegistry("libbeat").GetOrCreateRegistry("output")
	if err := out.Clear(); err != nil {
		t.Fatal(err)
	}
	group, err := outputs.Load(nil, beat.Info{Beat: "filebeat", Logger: logptest.NewTestingLogger(t, "")}, outputs.NewStats(out, logptest.NewTestingLogger(t, "")), "websocket", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return group, func(name string) int64 {
		return monitoring.CollectFlatSnapshot(out, monitoring.Full, false).Ints[name]
	}
}

// pipelineObserver is an Observer of the kind libbeat's pipeline gives the
// output factory: its Stats, on a registry of their own.
func pipelineObserver(t testing.TB) outputs.Observer {
	return outputs.NewStats(monitoring.NewRegistry(), logptest.NewTestingLogger(t, ""))
}
