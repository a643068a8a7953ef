package wsclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/beats-websocket/websocket-output/transport"
	"github.com/beats-websocket/websocket-output/transport/wstest"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/outputs/outest"
	"github.com/elastic/beats/v7/libbeat/publisher"
)

// Every test must leave no goroutine behind: the client's reader and pinger
// included.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testObserver counts what the client reports; safe for the reader
// goroutine's concurrent calls.
type testObserver struct {
	batches, total, acked, failed, dropped         atomic.Int64
	writeErrors, writeBytes, readErrors, readBytes atomic.Int64
}

func (o *testObserver) NewBatch(n int)   { o.batches.Add(1); o.total.Add(int64(n)) }
func (o *testObserver) Acked(n int)      { o.acked.Add(int64(n)) }
func (o *testObserver) Failed(n int)     { o.failed.Add(int64(n)) }
func (o *testObserver) Dropped(n int)    { o.dropped.Add(int64(n)) }
func (o *testObserver) Duplicate(int)    {}
func (o *testObserver) WriteError(error) { o.writeErrors.Add(1) }
func (o *testObserver) WriteBytes(n int) { o.writeBytes.Add(int64(n)) }
func (o *testObserver) ReadError(error)  { o.readErrors.Add(1) }
func (o *testObserver) ReadBytes(n int)  { o.readBytes.Add(int64(n)) }
func (o *testObserver) ErrTooMany(int)   {}
func (o *testObserver) String() string {
	return fmt.Sprintf("total=%d acked=%d failed=%d dropped=%d",
		o.total.Load(), o.acked.Load(), o.failed.Load(), o.dropped.Load())
}

// balanced checks that every event given to Publish was accounted for once.
func (o *testObserver) balanced(t *testing.T) {
	t.Helper()
	if o.total.Load() != o.acked.Load()+o.failed.Load()+o.dropped.Load() {
		t.Fatalf("observer counts do not add up: %s", o)
	}
}

func testConfig(s *wstest.Server) config {
	c := defaultConfig()
	c.Addr = s.Addr()
	c.Path = "/ws"
	c.Timeout = 5 * time.Second
	c.Backoff = backoffConfig{Init: 50 * time.Millisecond, Max: 200 * time.Millisecond}
	return c
}

func newTestClient(t *testing.T, cfg config) (*Client, *testObserver) {
	t.Helper()
	return newClientWith(t, cfg, testLogger(t), nil)
}

// testLogger is a logger whose output the test does not look at.
func testLogger(t testing.TB) *logger {
	log, _ := newTestingLogger(t)
	return log
}

// newClientWith is newTestClient with the logger given and the transport's
// options changed by change, if not nil.
func newClientWith(t *testing.T, cfg config, log *logger, change func(*transport.Options)) (*Client, *testObserver) {
	t.Helper()
	obs := &testObserver{}
	enc, err := newEncoder(cfg, beat.Info{Beat: "filebeat", Version: testBeatsVersion})
	if err != nil {
		t.Fatal(err)
	}
	opts := firstEndpoint(t, cfg)
	if change != nil {
		change(&opts)
	}
	c := newClient(cfg, opts, enc, metrics{stats: obs, conn: newConnMetrics(outputRegistry(nil))}, log)
	t.Cleanup(func() { c.Close() })
	return c, obs
}

// firstEndpoint is cfg's first server, with its ssl settings.
func firstEndpoint(t testing.TB, cfg config) transport.Options {
	t.Helper()
	tlsConfig, err := loadTLS(cfg.TLS)
	if err != nil {
		t.Fatal(err)
	}
	return endpoint(cfg, cfg.urls()[0], tlsConfig)
}

func mustConnect(t *testing.T, c *Client) {
	t.Helper()
	if err := connect(c); err != nil {
		t.Fatalf("connect: %v", err)
	}
}

func logEvent(msg interface{}) beat.Event {
	return beat.Event{Timestamp: time.Now(), Fields: mapStr{"message": msg}}
}

func batchOf(n int) *outest.Batch {
	events := make([]beat.Event, n)
	for i := range events {
		events[i] = logEvent(fmt.Sprintf("event %d", i))
	}
	return outest.NewBatch(events...)
}

// messageOf returns the "message" of a received JSON message.
func messageOf(t *testing.T, raw string) string {
	t.Helper()
	var m struct {
		Timestamp string `json:"timestamp"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil || m.Timestamp == "" {
		t.Fatalf("received %q: not the {timestamp,message} format (%v)", raw, err)
	}
	return m.Message
}

func messagesOf(t *testing.T, events []publisher.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Content.Fields["message"].(string)
	}
	return out
}

func onlySignal(t *testing.T, b *outest.Batch) outest.BatchSignal {
	t.Helper()
	if len(b.Signals) != 1 {
		t.Fatalf("batch got %d signals (%+v), want exactly one", len(b.Signals), b.Signals)
	}
	return b.Signals[0]
}

func TestPublish_ACKsBatchAfterSendingEveryEventInOrder(t *testing.T) {
	s := wstest.New(t, nil)
	c, obs := newTestClient(t, testConfig(s))
	mustConnect(t, c)

	batch := batchOf(500)
	if err := c.Publish(context.Background(), batch); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if sig := onlySignal(t, batch); sig.Tag != outest.BatchACK {
		t.Fatalf("signal %v, want ACK", sig.Tag)
	}
	for i, raw := range s.Receive(500) {
		if got, want := messageOf(t, raw), fmt.Sprintf("event %d", i); got != want {
			t.Fatalf("message %d is %q, want %q", i, got, want)
		}
	}
	if obs.acked.Load() != 500 || obs.writeBytes.Load() == 0 {
		t.Fatalf("observer: %s, %d bytes", obs, obs.writeBytes.Load())
	}
	obs.balanced(t)
}

func TestPublish_DropsEventsThatCannotBeEncodedAndCountsThem(t *testing.T) {
	s := wstest.New(t, nil)
	cfg := testConfig(s)
	cfg.MaxLen = 10
	c, obs := newTestClient(t, cfg)
	mustConnect(t, c)

	batch := outest.NewBatch(
		logEvent("first"),
		beat.Event{Timestamp: time.Now(), Fields: mapStr{"other": "no message"}},
		logEvent(12345),
		logEvent(strings.Repeat("x", 11)), // max_len + 1
		logEvent(strings.Repeat("y", 10)), // exactly max_len
	)
	if err := c.Publish(context.Background(), batch); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if sig := onlySignal(t, batch); sig.Tag != outest.BatchACK {
		t.Fatalf("signal %v, want ACK: dropped events are not retried", sig.Tag)
	}
	got := s.Receive(2)
	if messageOf(t, got[0]) != "first" || messageOf(t, got[1]) != strings.Repeat("y", 10) {
		t.Fatalf("received %q", got)
	}
	if obs.dropped.Load() != 3 || obs.acked.Load() != 2 {
		t.Fatalf("observer: %s, want 3 dropped and 2 acked", obs)
	}
	obs.balanced(t)
}

func TestPublish_DropWarningsAreRateLimitedAndNeverShowContent(t *testing.T) {
	s := wstest.New(t, nil)
	cfg := testConfig(s)
	cfg.MaxLen = 5
	log, logs := newTestingLogger(t)
	c, _ := newClientWith(t, cfg, log, nil)
	mustConnect(t, c)

	events := make([]beat.Event, 100)
	for i := range events {
		events[i] = logEvent("secret-content-" + fmt.Sprint(i))
	}
	if err := c.Publish(context.Background(), outest.NewBatch(events...)); err != nil {
		t.Fatal(err)
	}
	warnings := logs.FilterMessageSnippet("Dropped an event").All()
	if len(warnings) != 1 {
		t.Fatalf("%d drop warnings for 100 drops within 10s, want 1", len(warnings))
	}
	msg := warnings[0].Message
	if strings.Contains(msg, "secret-content") || !strings.Contains(msg, "max_len 5") || !strings.Contains(msg, "bytes") {
		t.Fatalf("warning should give reason and size, not content: %q", msg)
	}
}

func TestPublish_RetriesUnsentRemainderAfterDisconnect(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.ResetAfter.Store(3) })
	c, obs := newTestClient(t, testConfig(s))
	mustConnect(t, c)

	// The server resets the connection after reading three messages; large
	// messages make sure a write within the batch fails.
	big := strings.Repeat("z", 64<<10)
	events := make([]beat.Event, 200)
	for i := range events {
		events[i] = logEvent(fmt.Sprintf("%d %s", i, big))
	}
	batch := outest.NewBatch(events...)
	if err := c.Publish(context.Background(), batch); err == nil {
		t.Fatal("publish over a reset connection succeeded")
	}

	// Exactly the unsent remainder goes back: the suffix of the batch that
	// starts at the event whose write failed.
	sig := onlySignal(t, batch)
	if sig.Tag != outest.BatchRetryEvents {
		t.Fatalf("signal %v, want RetryEvents", sig.Tag)
	}
	all := batch.Events()
	sent := len(all) - len(sig.Events)
	if len(sig.Events) == 0 || sent < 3 {
		t.Fatalf("retried %d of %d events although the server read 3", len(sig.Events), len(all))
	}
	if strings.Join(messagesOf(t, sig.Events), "|") != strings.Join(messagesOf(t, all[sent:]), "|") {
		t.Fatal("retried events are not the batch's remainder")
	}
	// The reset is one failure, counted once: by the writer or the reader,
	// whichever saw it first.
	if obs.acked.Load() != int64(sent) || obs.failed.Load() != int64(len(sig.Events)) || obs.writeErrors.Load()+obs.readErrors.Load() != 1 {
		t.Fatalf("observer: %s, %d write and %d read errors; want %d acked and %d failed, one error",
			obs, obs.writeErrors.Load(), obs.readErrors.Load(), sent, len(sig.Events))
	}
	obs.balanced(t)
	if c.conn.Current() != nil {
		t.Fatal("failed connection kept")
	}

	// libbeat hands the remainder back after a reconnect: it arrives whole
	// and in order.
	s.Receive(3)
	s.ResetAfter.Store(0)
	mustConnect(t, c)
	retry := outest.NewBatch(contents(sig.Events)...)
	if err := c.Publish(context.Background(), retry); err != nil {
		t.Fatal(err)
	}
	for i, raw := range s.Receive(len(sig.Events)) {
		if got, want := messageOf(t, raw), messagesOf(t, sig.Events)[i]; got != want {
			t.Fatalf("resent message %d is %.20q…, want %.20q…", i, got, want)
		}
	}
}

func contents(events []publisher.Event) []beat.Event {
	out := make([]beat.Event, len(events))
	for i, e := range events {
		out[i] = e.Content
	}
	return out
}

func TestPublish_HandsBatchBackWhenServerClosedConnection(t *testing.T) {
	s := wstest.New(t, nil)
	log, logs := newTestingLogger(t)
	c, obs := newClientWith(t, testConfig(s), log, nil)
	mustConnect(t, c)

	server := s.Conn()
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "restarting")
	if err := server.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	waitDead(t, c)

	batch := batchOf(10)
	err := c.Publish(context.Background(), batch)
	lostOnce(t, logs, err, "close 1001")
	if sig := onlySignal(t, batch); sig.Tag != outest.BatchCancelled {
		t.Fatalf("signal %v, want Cancelled: nothing was sent", sig.Tag)
	}
	if obs.readErrors.Load() != 1 {
		t.Fatalf("%d read errors counted, want 1", obs.readErrors.Load())
	}
	// Handed back unsent: counted as failed, as libbeat's events.failed
	// means in this output's docs, not left out of every counter.
	if obs.failed.Load() != 10 {
		t.Fatalf("observer: %s, want the 10 events handed back counted failed", obs)
	}
	obs.balanced(t)
}

// lostOnce checks that the connection's loss was logged once, as an error
// with its reason, and that the publisher's error err refers to that line
// without repeating the reason (a *transport.LostError).
func lostOnce(t *testing.T, logs *observer.ObservedLogs, err error, reason string) {
	t.Helper()
	var lost *transport.LostError
	if !errors.As(err, &lost) || !strings.Contains(lost.Reason.Error(), reason) || strings.Contains(err.Error(), reason) {
		t.Fatalf("publish error %v, want a LostError whose reason has %q and whose text refers to the log", err, reason)
	}
	logged := logs.FilterMessageSnippet("lost after").All()
	if len(logged) != 1 || !strings.Contains(logged[0].Message, reason) || logged[0].Level != zapcore.ErrorLevel {
		t.Fatalf("logged %v, want the loss once, as an error with %q", logged, reason)
	}
}

// waitDead waits until the client's connection has been declared dead.
func waitDead(t *testing.T, c *Client) error {
	t.Helper()
	cn := c.conn.Current()
	select {
	case <-cn.Done():
		return cn.Err()
	case <-time.After(wait):
		t.Fatal("connection never declared dead")
		return nil
	}
}

func TestPublish_WriteTimeoutOnStalledServer(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.NoRead = true })
	cfg := testConfig(s)
	cfg.Timeout = 300 * time.Millisecond
	c, obs := newTestClient(t, cfg)
	mustConnect(t, c)

	// 64 MiB cannot fit in loopback socket buffers: some write must block
	// until the deadline.
	big := strings.Repeat("s", 1<<20)
	events := make([]beat.Event, 64)
	for i := range events {
		events[i] = logEvent(big)
	}
	batch := outest.NewBatch(events...)
	err := c.Publish(context.Background(), batch)
	var netErr net.Error
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Fatalf("publish error %v, want a write timeout", err)
	}
	if sig := onlySignal(t, batch); sig.Tag != outest.BatchRetryEvents || len(sig.Events) == 0 {
		t.Fatalf("signal %v with %d events, want RetryEvents", sig.Tag, len(sig.Events))
	}
	obs.balanced(t)
	// The reader sees the socket close under it: that is not a read error.
	c.Close()
	if obs.writeErrors.Load() != 1 || obs.readErrors.Load() != 0 {
		t.Fatalf("%d write errors and %d read errors counted, want 1 and 0", obs.writeErrors.Load(), obs.readErrors.Load())
	}
}

func TestPublish_WithoutConnectionCancelsBatch(t *testing.T) {
	s := wstest.New(t, nil)
	c, obs := newTestClient(t, testConfig(s))

	batch := batchOf(3)
	if err := c.Publish(context.Background(), batch); err == nil {
		t.Fatal("publish before connect succeeded")
	}
	if sig := onlySignal(t, batch); sig.Tag != outest.BatchCancelled {
		t.Fatalf("signal %v, want Cancelled", sig.Tag)
	}
	obs.balanced(t)
}

func TestClose_IsIdempotentAndSafeBeforeConnect(t *testing.T) {
	s := wstest.New(t, nil)
	c, obs := newTestClient(t, testConfig(s))
	c.Close()
	c.Close()
	if err := connect(c); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("connect after close: %v, want transport.ErrClosed", err)
	}
	batch := batchOf(2)
	if err := c.Publish(context.Background(), batch); err == nil {
		t.Fatal("publish after close succeeded")
	}
	if sig := onlySignal(t, batch); sig.Tag != outest.BatchCancelled {
		t.Fatalf("signal %v, want Cancelled", sig.Tag)
	}
	obs.balanced(t)
}

func TestKeepalive_MissingPongMarksConnectionDead(t *testing.T) {
	s := wstest.New(t, func(s *wstest.Server) { s.IgnorePing = true })
	cfg := testConfig(s)
	cfg.PingInterval = 50 * time.Millisecond
	cfg.PingTimeout = 100 * time.Millisecond
	log, logs := newTestingLogger(t)
	c, obs := newClientWith(t, cfg, log, nil)
	mustConnect(t, c)

	if err := waitDead(t, c); err == nil || !strings.Contains(err.Error(), "no pong") {
		t.Fatalf("connection died with %v, want a missing pong", err)
	}
	batch := batchOf(1)
	err := c.Publish(context.Background(), batch)
	lostOnce(t, logs, err, "no pong")
	if sig := onlySignal(t, batch); sig.Tag != outest.BatchCancelled {
		t.Fatalf("signal %v, want Cancelled", sig.Tag)
	}
	obs.balanced(t)

	// The next connect gets a fresh connection.
	mustConnect(t, c)
	if err := c.conn.Current().Err(); err != nil {
		t.Fatalf("new connection already dead: %v", err)
	}
}

// wait bounds every wait in these tests; reaching it is a failure, never
// part of the expected behaviour.
const wait = wstest.Wait
