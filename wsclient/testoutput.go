package wsclient

import (
	"fmt"
	"strings"
	"sync"

	"github.com/elastic/beats/v7/libbeat/outputs"

	"github.com/beats-websocket/websocket-output/transport"
)

// `filebeat test output`: libbeat calls Test (testing.Testable) on each of
// the output's clients in turn, with a driver that prints a checklist and
// exits the process on Fatal. The clients of one output share an
// outputTest, so the first call tests every host once and the others do
// nothing: a host is tested once, not once per worker, with loadbalance
// or without. The checks themselves are the transport's (transport.Check).

// testable is one of the output's clients, with the output's test.
type testable struct {
	outputs.NetworkClient
	test *outputTest
}

// Test runs `filebeat test output` for the whole output on its first call
// and does nothing on later ones. A failed check makes it call d.Fatal once
// every host is tested. Called by the test command only, from one goroutine.
func (c testable) Test(d driver) {
	c.test.once.Do(func() { c.test.run(d) })
}

// outputTest checks each host the way the clients connect to it: with the
// same transport.Options.
type outputTest struct {
	once      sync.Once
	endpoints []transport.Options
}

// withTest makes each of clients testable with the output's test.
func withTest(clients []outputs.NetworkClient, test *outputTest) []outputs.NetworkClient {
	out := make([]outputs.NetworkClient, len(clients))
	for i, c := range clients {
		out[i] = testable{NetworkClient: c, test: test}
	}
	return out
}

// run tests every host, even after one fails, then fails the command if
// any did.
func (t *outputTest) run(d driver) {
	var failed []string
	for _, ep := range t.endpoints {
		name := transport.Display(ep.URL)
		ok := false
		d.Run("websocket: "+name, func(d driver) { ok = transport.Check(ep, checklist{d}) })
		if !ok {
			failed = append(failed, name)
		}
	}
	switch {
	case len(failed) == 1 && len(t.endpoints) == 1:
		d.Fatal("websocket output", fmt.Errorf("%s failed", failed[0]))
	case len(failed) > 0:
		d.Fatal("websocket output", fmt.Errorf("%d of %d hosts failed: %s", len(failed), len(t.endpoints), strings.Join(failed, ", ")))
	}
}

// checklist is libbeat's test driver as the transport's Checklist.
type checklist struct{ driver }

func (c checklist) Run(name string, f func(transport.Checklist)) {
	c.driver.Run(name, func(d driver) { f(checklist{d}) })
}
