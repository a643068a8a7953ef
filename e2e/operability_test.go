package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/beats-websocket/websocket-output/testbed"
)

// What an operator sees in Filebeat's /stats and log when the receiver is
// down from the start, killed mid-run, or there from a clean start, and
// when an idle connection dies: the counters as docs/metrics.md describes
// them, the connection metrics under libbeat.output.websocket, and a lost
// connection logged when it is noticed.

const opsLines = 6000

// opsStats are libbeat in Filebeat's /stats, as docs/metrics.md describes
// them, with the output and pipeline sections as Filebeat wrote them.
type opsStats struct {
	Output struct {
		Events struct {
			Batches, Total, Acked, Failed, Dropped, Active int64
		}
		Write, Read struct {
			Bytes, Errors int64
		}
		Websocket struct {
			Connections struct {
				Open           int64 `json:"open_gauge"`
				Opened, Failed int64
				Refused        map[string]int64
				Lost           struct {
					CloseFrame  int64 `json:"close_frame"`
					PongTimeout int64 `json:"pong_timeout"`
					AckTimeout  int64 `json:"ack_timeout"`
					ReadError   int64 `json:"read_error"`
					WriteError  int64 `json:"write_error"`
				}
			}
			Acks struct {
				Awaiting  int64 `json:"awaiting_gauge"`
				LatencyUs struct {
					Histogram struct{ Count int64 }
				} `json:"latency_us"`
			}
		}
	}
	Pipeline struct {
		Events struct {
			Total, Published, Active, Retry, Failed, Dropped int64
		}
	}
	raw string // the two sections, indented
}

// opsStats reads libbeat's sections of Filebeat's /stats, waiting at most
// 2 minutes for Filebeat to serve them (a loaded CI machine starts it
// slowly); it fails at once, with Filebeat's log, if Filebeat exited.
func (f *filebeat) opsStats(t *testing.T) opsStats {
	t.Helper()
	var page struct {
		Libbeat struct{ Output, Pipeline json.RawMessage }
	}
	deadline := time.Now().Add(2 * time.Minute)
	for testbed.GetJSON(nil, "http://"+f.httpAddr+"/stats", &page) != nil || page.Libbeat.Output == nil || page.Libbeat.Pipeline == nil {
		if !f.running() {
			t.Fatalf("filebeat exited before it served /stats: %v; its log:\n%s", f.err, f.tail())
		}
		if time.Now().After(deadline) {
			t.Fatalf("Filebeat did not serve libbeat's sections of /stats on %s within 2 minutes; its log:\n%s", f.httpAddr, f.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var s opsStats
	if err := json.Unmarshal(page.Libbeat.Output, &s.Output); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(page.Libbeat.Pipeline, &s.Pipeline); err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	both, _ := json.Marshal(map[string]json.RawMessage{"output": page.Libbeat.Output, "pipeline": page.Libbeat.Pipeline})
	_ = json.Indent(&raw, both, "", "  ")
	s.raw = raw.String()
	return s
}

// balanced checks the output's counters add up: every event given to the
// output counted once as acked, failed (handed back) or dropped, or still
// active.
func (s opsStats) balanced(t *testing.T) {
	t.Helper()
	e := s.Output.Events
	if e.Total != e.Acked+e.Failed+e.Dropped+e.Active {
		t.Fatalf("events.total %d is not acked %d + failed %d + dropped %d + active %d:\n%s",
			e.Total, e.Acked, e.Failed, e.Dropped, e.Active, s.raw)
	}
	// libbeat 7.17 sends again, counting them, every event the output
	// hands back, and the batches it hands back itself while the output
	// connects; 9.5 counts only those handed back after a write
	// (RetryEvents), which the output counts in failed too.
	if beatsLine() == "7.17" && s.Pipeline.Events.Retry < e.Failed {
		t.Fatalf("pipeline.events.retry %d, less than the output's events.failed %d:\n%s", s.Pipeline.Events.Retry, e.Failed, s.raw)
	}
}

// show logs the sections for the record (docs/operability-stats.md).
func (s opsStats) show(t *testing.T, when string) {
	t.Helper()
	t.Logf("/stats %s:\n%s", when, s.raw)
}

// settled waits until Filebeat's output has acked n events and nothing is
// in flight.
func (f *filebeat) settled(t *testing.T, n int64) opsStats {
	t.Helper()
	var s opsStats
	waitFor(t, 2*time.Minute, fmt.Sprintf("%d events acked, none active", n), func() bool {
		s = f.opsStats(t)
		return s.Output.Events.Acked >= n && s.Output.Events.Active == 0 && s.Pipeline.Events.Active == 0
	})
	return s
}

func opsOutput(addr, extra string) string {
	return fmt.Sprintf("addr: %q\npath: /echo\nack.enabled: true\nbackoff.init: 200ms\nbackoff.max: 1s\n%s", addr, extra)
}

// A clean start: libbeat hands the first batch back unsent while the
// output makes its first connection (its netClientWorker cancels the batch
// that triggers a connect), so pipeline.events.retry shows one batch;
// the output counters show nothing handed back.
func TestStats_CleanStart(t *testing.T) {
	dir := t.TempDir()
	log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
	writeLog(t, log, 0, opsLines)
	recv := startReceiver(t, dir, "127.0.0.1:0", out, "-ack")
	fb := startFilebeatWith(t, dir, inputFor(log), opsOutput(recv.addr, ""), "logging.metrics: {enabled: true, period: 1s}")

	s := fb.settled(t, opsLines)
	s.show(t, "after a clean start, every line delivered")
	// The metrics log line shows them too, the gauge as its value.
	var logged map[string]any
	defer func() {
		if t.Failed() {
			t.Log(fb.tail())
		}
	}()
	waitFor(t, 30*time.Second, "the connection metrics in the metrics log line", func() bool {
		logged = loggedMetrics(t, fb.output(), "libbeat", "output", "websocket")
		return logged != nil
	})
	if conns, _ := logged["connections"].(map[string]any); conns == nil || conns["open_gauge"] != 1.0 {
		t.Fatalf("the metrics log line shows libbeat.output.websocket as %v, want connections.open_gauge 1", logged)
	}
	s.balanced(t)
	e, ws := s.Output.Events, s.Output.Websocket
	if e.Total != opsLines || e.Acked != opsLines || e.Failed != 0 || e.Dropped != 0 {
		t.Fatalf("output events %+v, want %d given to the output and acked, none failed or dropped", e, opsLines)
	}
	// libbeat hands back the first batch while the output connects;
	// 7.17 counts it in retry, 9.5 does not (docs/metrics.md).
	if r := s.Pipeline.Events.Retry; (beatsLine() == "7.17" && (r <= 0 || r > 2048)) || (beatsLine() == "9.5" && r != 0) || s.Pipeline.Events.Failed != 0 {
		t.Fatalf("pipeline.events.retry %d, failed %d: want on 7.17 the first batch (1 to bulk_max_size 2048 events), handed back by libbeat while connecting, on 9.5 none; no failure",
			r, s.Pipeline.Events.Failed)
	}
	if c := ws.Connections; c.Open != 1 || c.Opened != 1 || c.Failed != 0 || c.Lost != (opsStats{}).Output.Websocket.Connections.Lost {
		t.Fatalf("connections %+v, want one opened and open, none failed or lost", c)
	}
	if ws.Acks.Awaiting != 0 || ws.Acks.LatencyUs.Histogram.Count < 1 {
		t.Fatalf("acks %+v, want none awaiting and the latency of each acknowledged batch", ws.Acks)
	}
	fb.stop(t)
	recv.stop(t)
	wantLines(t, received(t, out), opsLines)
}

// The receiver down from the start: libbeat hands every batch back itself
// before each connect, so the output never gets one and its event
// counters stay 0; the failed connects are counted, and nothing is open.
func TestStats_ReceiverDownFromTheStart(t *testing.T) {
	dir := t.TempDir()
	log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
	writeLog(t, log, 0, opsLines)
	addr := freeAddr(t) // nothing listens there yet
	fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), inputFor(log), opsOutput(addr, ""))

	failed := "Failed to connect to websocket(ws://" + addr + "/echo)"
	waitFor(t, time.Minute, "4 failed connects in Filebeat's log", func() bool {
		return strings.Count(fb.output(), failed) >= 4
	})
	s := fb.opsStats(t)
	s.show(t, "with the receiver down from the start, after 4 failed connects")
	e, c := s.Output.Events, s.Output.Websocket.Connections
	if c.Failed < 4 {
		t.Fatalf("connections %+v, want the 4 failed connects (or more) counted", c)
	}
	if e.Total != 0 || e.Acked != 0 || e.Failed != 0 || s.Output.Write.Errors != 0 || s.Output.Read.Errors != 0 {
		t.Fatalf("output counters %+v, write %+v, read %+v: want all 0, the output never got a batch", e, s.Output.Write, s.Output.Read)
	}
	if c.Open != 0 || c.Opened != 0 || c.Refused["4xx"] != 0 || c.Refused["5xx"] != 0 {
		t.Fatalf("connections %+v, want none opened or refused: nothing listens", c)
	}
	if beatsLine() == "7.17" && s.Pipeline.Events.Retry <= 0 {
		t.Fatalf("pipeline.events.retry %d, want the batches libbeat 7.17 handed back at each connect", s.Pipeline.Events.Retry)
	}

	recv := startReceiver(t, dir, addr, out, "-ack")
	s = fb.settled(t, opsLines)
	s.show(t, "with the receiver down from the start, then up, every line delivered")
	s.balanced(t)
	if e := s.Output.Events; e.Acked != opsLines || e.Failed != 0 {
		t.Fatalf("output events %+v, want %d acked and none failed", e, opsLines)
	}
	if c := s.Output.Websocket.Connections; c.Open != 1 || c.Opened != 1 {
		t.Fatalf("connections %+v, want one opened and open", c)
	}
	fb.stop(t)
	recv.stop(t)
	// libbeat sends the batches it handed back in no set order.
	wantEveryLine(t, received(t, out), opsLines, false)
}

// wantEveryLine checks that got holds each of the first n lines of a
// generated log, in any order; and, unless dups, each once.
func wantEveryLine(t *testing.T, got []string, n int, dups bool) {
	t.Helper()
	seen := make(map[string]int, n)
	for _, m := range got {
		seen[m]++
	}
	for i := range n {
		if c := seen[line(i)]; c == 0 || (c > 1 && !dups) {
			t.Fatalf("line %d arrived %d times", i, c)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct lines arrived, want %d", len(seen), n)
	}
}

// The receiver killed mid-run: the events the output hands back count as
// failed, whether written and not acknowledged or handed back unsent
// because the connection was found dead; the connection counts as lost.
func TestStats_ReceiverKilledMidRun(t *testing.T) {
	const n = 20000
	dir := t.TempDir()
	log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
	writing := growLog(t, log, 1000, n, 500, 50*time.Millisecond)
	recv := startReceiver(t, dir, "127.0.0.1:0", out, "-ack")
	fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), inputFor(log), opsOutput(recv.addr, ""))

	waitFor(t, 2*time.Minute, "5000 events at the receiver", func() bool { return recv.stats(t).Events >= 5000 })
	skip := len(fb.output())
	recv.kill(t)
	// libbeat connects again only once a Publish has failed: by then the
	// output has handed back what the server does not hold.
	waitFor(t, time.Minute, "a failed connect in Filebeat's log", func() bool {
		return strings.Contains(fb.output()[skip:], "Failed to connect to websocket(ws://"+recv.addr+"/echo)")
	})
	s := fb.opsStats(t)
	s.show(t, "with the receiver killed mid-run, at the first failed connect after the kill")
	c := s.Output.Websocket.Connections
	if c.Lost.ReadError+c.Lost.WriteError != 1 || c.Open != 0 || c.Opened != 1 || c.Failed < 1 ||
		s.Output.Read.Errors+s.Output.Write.Errors != 1 {
		t.Fatalf("connections %+v, read %+v, write %+v: want the one connection lost by a read or write error, counted once, and the failed connect",
			c, s.Output.Read, s.Output.Write)
	}
	if s.Output.Events.Failed == 0 {
		t.Fatalf("output events %+v: want what the output handed back counted as failed", s.Output.Events)
	}

	recv2 := startReceiver(t, dir, recv.addr, out, "-ack")
	if err := <-writing; err != nil {
		t.Fatal(err)
	}
	s = fb.settled(t, n)
	s.show(t, "with the receiver killed mid-run, then restarted, every line delivered")
	s.balanced(t)
	// With acks each line is acknowledged once, however often it was sent.
	if e := s.Output.Events; e.Acked != n || e.Failed == 0 {
		t.Fatalf("output events %+v, want %d acked and the handed-back events failed", e, n)
	}
	if c := s.Output.Websocket.Connections; c.Open != 1 || c.Opened != 2 {
		t.Fatalf("connections %+v, want two opened, one open", c)
	}
	fb.stop(t)
	recv2.stop(t)
	wantEveryLine(t, received(t, out), n, true) // at least once
}

// An idle connection that dies is logged when the reader notices it, once,
// with the reason: a close frame at once, a missing pong within
// ping_interval + ping_timeout; not when the next batch finds it dead
// (here none comes).
func TestLost_AnIdleConnectionsDeathIsLoggedWhenNoticed(t *testing.T) {
	const pingInterval, pingTimeout = time.Second, time.Second
	for _, tc := range []struct {
		name   string
		signal syscall.Signal
		reason string
		bound  time.Duration
		lost   func(opsStats) int64
	}{
		// wsreceiver sends a close frame (1001) on SIGTERM.
		{"close frame", syscall.SIGTERM, "server closed the connection: websocket: close 1001", 2 * time.Second,
			func(s opsStats) int64 { return s.Output.Websocket.Connections.Lost.CloseFrame }},
		// A stopped process's kernel still acknowledges the pings: only
		// the pong deadline notices.
		{"missing pong", syscall.SIGSTOP, "no pong within ping_timeout (1s)", pingInterval + pingTimeout + 2*time.Second,
			func(s opsStats) int64 { return s.Output.Websocket.Connections.Lost.PongTimeout }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
			writeLog(t, log, 0, 100)
			recv := startReceiver(t, dir, "127.0.0.1:0", out)
			fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), inputFor(log),
				fmt.Sprintf("addr: %q\npath: /echo\nping_interval: %v\nping_timeout: %v", recv.addr, pingInterval, pingTimeout))
			fb.settled(t, 100)

			skip := len(fb.output())
			if err := recv.cmd.Process.Signal(tc.signal); err != nil {
				t.Fatal(err)
			}
			sent := time.Now()
			var lost string
			waitFor(t, tc.bound+10*time.Second, "the loss in Filebeat's log", func() bool {
				for _, l := range strings.Split(fb.output()[skip:], "\n") {
					if strings.Contains(l, "lost after") {
						lost = l
						return true
					}
				}
				return false
			})
			at, level := logStamp(t, lost)
			if took := at.Sub(sent); took > tc.bound || !strings.Contains(lost, tc.reason) || level != "error" {
				t.Fatalf("logged %v after the signal: %q; want an ERROR with %q within %v", took.Round(time.Millisecond), lost, tc.reason, tc.bound)
			}
			s := fb.opsStats(t)
			c := s.Output.Websocket.Connections
			if c.Open != 0 || tc.lost(s) != 1 || c.Lost.ReadError+c.Lost.WriteError+c.Lost.AckTimeout != 0 {
				t.Fatalf("connections %+v, want none open and the one lost by %s", c, tc.name)
			}
			rest := fb.output()[skip:]
			if n := strings.Count(rest, tc.reason); n != 1 || strings.Contains(rest, "failed to publish") {
				t.Fatalf("the reason logged %d times, want once and no publish:\n%s", n, rest)
			}
			t.Logf("%s: logged %v after the signal: %s", tc.name, at.Sub(sent).Round(time.Millisecond), lost)
			fb.stop(t)
		})
	}
}

// logStamp is when a line of Filebeat's log was written, and its level
// in lower case: 7.17 writes "time<TAB>LEVEL<TAB>...", 9.5 JSON.
func logStamp(t *testing.T, l string) (time.Time, string) {
	t.Helper()
	var stamp, level string
	if strings.HasPrefix(l, "{") {
		var ev struct {
			Timestamp string `json:"@timestamp"`
			Level     string `json:"log.level"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		stamp, level = ev.Timestamp, ev.Level
	} else {
		fields := strings.SplitN(l, "\t", 3)
		if len(fields) < 2 {
			t.Fatalf("log line %q has no time stamp and level", l)
		}
		stamp, level = fields[0], strings.ToLower(fields[1])
	}
	at, err := time.Parse("2006-01-02T15:04:05.000Z0700", stamp)
	if err != nil {
		t.Fatalf("log line %q: %v", l, err)
	}
	return at, level
}

// loggedMetrics is the object at path in the metrics of the last of
// Filebeat's "Non-zero metrics" log lines that has it, nil if none has: 7.17
// writes the metrics as JSON after the message, 9.5 the line as JSON.
func loggedMetrics(t *testing.T, log string, path ...string) map[string]any {
	t.Helper()
	lines := strings.Split(log, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if !strings.Contains(l, "Non-zero metrics") {
			continue
		}
		if !strings.HasPrefix(l, "{") {
			l = l[strings.LastIndex(l, "\t")+1:]
		}
		var v struct {
			Monitoring struct{ Metrics map[string]any }
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("metrics log line %q: %v", lines[i], err)
		}
		m := v.Monitoring.Metrics
		for _, key := range path {
			m, _ = m[key].(map[string]any)
		}
		if m != nil {
			return m
		}
	}
	return nil
}
