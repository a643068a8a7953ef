package wsclient

import (
	"os"
	"strings"
	"testing"

	"github.com/elastic/beats/v7/libbeat/monitoring"
)

// Every connection metric the output registers is described in
// docs/metrics.md, by its full name under libbeat.output.websocket.
func TestDocs_MetricsPageDescribesEveryConnectionMetric(t *testing.T) {
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	reg := outputRegistry(nil)
	newConnMetrics(reg)
	snap := monitoring.CollectFlatSnapshot(reg, monitoring.Full, false)
	names := map[string]bool{} // the histogram's are ints and floats
	for name := range snap.Ints {
		names[name] = true
	}
	for name := range snap.Floats {
		names[name] = true
	}
	if len(names) < 10 {
		t.Fatalf("only %d metrics registered: %v", len(names), names)
	}
	for name := range names {
		if i := strings.Index(name, ".histogram."); i >= 0 {
			name = name[:i+len(".histogram")]
		}
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/metrics.md does not describe %s", name)
		}
	}
}
