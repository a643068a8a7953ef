package transport

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/beats-websocket/websocket-output/transport/wstest"
)

// Every test must leave no goroutine behind: the reader and pinger
// included.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wait bounds every wait in these tests; reaching it is a failure.
const wait = wstest.Wait

// testMetrics counts what the connections report; safe for the reader's
// concurrent calls.
type testMetrics struct {
	writeErrors, readErrors, readBytes atomic.Int64
	connected, connectFailed, open     atomic.Int64
	awaiting, acksTimed                atomic.Int64

	mu      sync.Mutex
	refused []int        // the statuses of refused handshakes
	lost    map[Loss]int // connections ended, by why (NotLost: closed)
}

func (m *testMetrics) WriteError(error) { m.writeErrors.Add(1) }
func (m *testMetrics) ReadError(error)  { m.readErrors.Add(1) }
func (m *testMetrics) ReadBytes(n int)  { m.readBytes.Add(int64(n)) }
func (m *testMetrics) Connected()       { m.connected.Add(1); m.open.Add(1) }
func (m *testMetrics) ConnectFailed(status int) {
	m.connectFailed.Add(1)
	if status != 0 {
		m.mu.Lock()
		m.refused = append(m.refused, status)
		m.mu.Unlock()
	}
}
func (m *testMetrics) Disconnected(l Loss) {
	m.open.Add(-1)
	m.mu.Lock()
	if m.lost == nil {
		m.lost = map[Loss]int{}
	}
	m.lost[l]++
	m.mu.Unlock()
}
func (m *testMetrics) AwaitingAck(d int)        { m.awaiting.Add(int64(d)) }
func (m *testMetrics) AckLatency(time.Duration) { m.acksTimed.Add(1) }

// ended returns how many connections ended for each reason.
func (m *testMetrics) ended() map[Loss]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.lost)
}

// testLog takes the warnings and errors, and keeps the errors: the lost
// connections.
type testLog struct {
	mu     sync.Mutex
	errors []string
}

func (*testLog) Warnf(string, ...interface{}) {}
func (l *testLog) Errorf(format string, args ...interface{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errors = append(l.errors, fmt.Sprintf(format, args...))
}

// logged returns the errors logged so far.
func (l *testLog) logged() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.errors)
}

// defaultOptions are the output's defaults for a server at addr, path /ws.
func defaultOptions(addr string) Options {
	return Options{
		URL:          &url.URL{Scheme: "ws", Host: addr, Path: "/ws"},
		Timeout:      30 * time.Second,
		AckTimeout:   30 * time.Second,
		PingInterval: 30 * time.Second,
		PingTimeout:  10 * time.Second,
		BackoffInit:  time.Second,
		BackoffMax:   60 * time.Second,
	}
}

// testOptions are for s, with short timeouts and backoff.
func testOptions(s *wstest.Server) Options {
	o := defaultOptions(s.Addr())
	o.Timeout = 5 * time.Second
	o.BackoffInit, o.BackoffMax = 50*time.Millisecond, 200*time.Millisecond
	return o
}

// ackTestOptions are testOptions with acknowledgements.
func ackTestOptions(s *wstest.Server) Options {
	o := testOptions(s)
	o.Acks, o.AckTimeout = true, 5*time.Second
	return o
}

func newTestClient(t *testing.T, opts Options) (*Client, *testMetrics) {
	t.Helper()
	c, m, _ := newLoggedClient(t, opts)
	return c, m
}

// newLoggedClient is newTestClient with what the client logs.
func newLoggedClient(t *testing.T, opts Options) (*Client, *testMetrics, *testLog) {
	t.Helper()
	m, log := &testMetrics{}, &testLog{}
	c := NewClient(opts, m, log)
	t.Cleanup(func() { c.Close() })
	return c, m, log
}

func mustConnect(t *testing.T, c *Client) {
	t.Helper()
	if err := c.Connect(); err != nil {
		t.Fatalf("connect: %v", err)
	}
}

// waitDead waits until the client's connection has been declared dead.
func waitDead(t *testing.T, c *Client) error {
	t.Helper()
	cn := c.Current()
	select {
	case <-cn.Done():
		return cn.Err()
	case <-time.After(wait):
		t.Fatal("connection never declared dead")
		return nil
	}
}
