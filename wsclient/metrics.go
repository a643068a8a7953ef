package wsclient

import (
	"time"

	gometrics "github.com/rcrowley/go-metrics"

	"github.com/beats-websocket/websocket-output/transport"
)

// The output's connection metrics, beside libbeat's output counters: under
// libbeat.output.websocket in Filebeat's registry, so that its /stats (with
// http.enabled) and its periodic metrics log line show them. One set per
// output, summed over its clients (every host and worker): libbeat builds
// libbeat.output afresh for each output it loads (at start, and at each
// reload of the output), and the metrics start over with it, as libbeat's
// own do. A gauge's name ends in _gauge, as libbeat's metrics log line wants
// it: it logs the others as the change since its last line.

// connMetrics are the connection metrics of one output. Safe for
// concurrent use.
type connMetrics struct {
	open    *intVar  // connections open now
	opened  *uintVar // handshakes that completed
	failed  *uintVar // connects that failed, for any reason
	refused [4]*uintVar
	lost    [transport.LostWriteError + 1]*uintVar // by transport.Loss; NotLost unused

	awaiting *intVar             // batches written and awaiting acknowledgement
	latency  gometrics.Histogram // microseconds from a batch's write to its acknowledgement
}

// refusedClasses name the refusals by the HTTP status of the answer to the
// handshake: a redirect, a client error (401, 403, 404, ...), a server
// error, anything else (a page, a 101 without the upgrade's headers).
var refusedClasses = [4]string{"3xx", "4xx", "5xx", "other"}

// ackLatencySamples is how many acknowledgement latencies the histogram
// keeps, a uniform sample over the output's life, as libbeat's own
// write.latency in Beats 8 and later.
const ackLatencySamples = 1024

// newConnMetrics registers the connection metrics in reg, which must not
// hold them yet.
func newConnMetrics(reg *registry) *connMetrics {
	m := &connMetrics{
		open:     newInt(reg, "connections.open_gauge"),
		opened:   newUint(reg, "connections.opened"),
		failed:   newUint(reg, "connections.failed"),
		awaiting: newInt(reg, "acks.awaiting_gauge"),
		latency:  gometrics.NewHistogram(gometrics.NewUniformSample(ackLatencySamples)),
	}
	for i, class := range refusedClasses {
		m.refused[i] = newUint(reg, "connections.refused."+class)
	}
	for l := transport.LostCloseFrame; l <= transport.LostWriteError; l++ {
		m.lost[l] = newUint(reg, "connections.lost."+l.String())
	}
	registerHistogram(reg, "acks.latency_us", m.latency)
	return m
}

// refusedClass is the index in refusedClasses of an HTTP status.
func refusedClass(status int) int {
	switch {
	case status >= 300 && status < 400:
		return 0
	case status >= 400 && status < 500:
		return 1
	case status >= 500 && status < 600:
		return 2
	}
	return 3
}

// metrics is what one client reports: libbeat's output counters to its
// Observer, the connections' events to the output's connection metrics. It
// is the transport's Metrics.
type metrics struct {
	stats
	conn *connMetrics
}

var _ transport.Metrics = metrics{}

func (m metrics) Connected() {
	m.conn.open.Inc()
	m.conn.opened.Inc()
}

func (m metrics) ConnectFailed(status int) {
	m.conn.failed.Inc()
	if status != 0 {
		m.conn.refused[refusedClass(status)].Inc()
	}
}

func (m metrics) Disconnected(l transport.Loss) {
	m.conn.open.Dec()
	if l > transport.NotLost && int(l) < len(m.conn.lost) {
		m.conn.lost[l].Inc()
	}
}

func (m metrics) AwaitingAck(delta int) { m.conn.awaiting.Add(int64(delta)) }

func (m metrics) AckLatency(d time.Duration) { m.conn.latency.Update(d.Microseconds()) }
