package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testTimeout is ackcheck's -timeout in these tests: far above what an
// in-process server takes to answer, even on a loaded machine, and what a
// check that waits for something that never comes costs.
const testTimeout = 3 * time.Second

// behaviour is how a test server departs from beats-ack.v1; the zero value
// is a correct server.
type behaviour struct {
	noSubprotocol bool
	// acks are the messages sent after taking a message: n messages on
	// this connection, events in them, all connections' messages; nil
	// acknowledges n.
	acks          func(n, events, all uint64) []string
	noPong        bool // ignore pings
	noCloseAnswer bool // keep the connection open after a close frame, without answering
	dropOnClose   bool // close the TCP connection on a close frame, without answering
	rejectBatch   bool // close the connection (1003) on a frame: batch message
}

func ackOf(n uint64) string { return string(protocol.AppendAck(nil, n)) }

// serve runs a server with behaviour b for the test and returns its URL.
func serve(t *testing.T, b behaviour) string {
	t.Helper()
	srv := httptest.NewServer(testServer(t, b))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ingest"
}

// testServer is the handler of a server with behaviour b. Cleanup closes
// its connections and waits for their handlers.
func testServer(t *testing.T, b behaviour) http.Handler {
	up := websocket.Upgrader{}
	if !b.noSubprotocol {
		up.Subprotocols = []string{protocol.Subprotocol}
	}
	var all atomic.Uint64
	var mu sync.Mutex
	var handlers sync.WaitGroup
	open := map[*websocket.Conn]bool{}
	stopped, stop := false, make(chan struct{})
	t.Cleanup(func() {
		mu.Lock()
		stopped = true
		close(stop)
		for ws := range open {
			ws.Close()
		}
		mu.Unlock()
		handlers.Wait()
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		if stopped {
			mu.Unlock()
			ws.Close()
			return
		}
		open[ws] = true
		handlers.Add(1)
		mu.Unlock()
		defer handlers.Done()
		defer ws.Close()
		b.handle(ws, &all, stop)
	})
}

// handle serves one connection until it ends or, for noCloseAnswer, stop.
func (b behaviour) handle(ws *websocket.Conn, all *atomic.Uint64, stop <-chan struct{}) {
	if b.noPong {
		ws.SetPingHandler(func(string) error { return nil })
	}
	closed := make(chan struct{})
	switch {
	case b.noCloseAnswer:
		ws.SetCloseHandler(func(int, string) error { close(closed); return nil })
	case b.dropOnClose:
		ws.SetCloseHandler(func(int, string) error { return ws.UnderlyingConn().Close() })
	}
	var n, events uint64
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			if b.noCloseAnswer {
				select {
				case <-closed:
					<-stop // stay, silent, until the test ends
				default:
				}
			}
			return
		}
		if b.rejectBatch && protocol.IsBatch(msg) {
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseUnsupportedData, "frame: batch is not supported"), time.Now().Add(time.Second))
			return
		}
		n++
		events++
		if protocol.IsBatch(msg) {
			events += uint64(bytes.Count(msg, []byte{protocol.EventEnd})) - 1
		}
		acks := []string{ackOf(n)}
		if b.acks != nil {
			acks = b.acks(n, events, all.Add(1))
		}
		for _, a := range acks {
			if ws.WriteMessage(websocket.TextMessage, []byte(a)) != nil {
				return
			}
		}
	}
}

// verdict is a check's line in the checklist.
type verdict struct{ mark, detail string }

// checklist runs ackcheck with args and returns its exit status, its
// verdicts by check name, and its output.
func checklist(t *testing.T, args ...string) (int, map[string]verdict, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	got := map[string]verdict{}
	for _, line := range strings.Split(stdout.String(), "\n") {
		mark, rest, ok := strings.Cut(line, "  ")
		if name, detail, found := strings.Cut(rest, ": "); ok && found && mark != "NOTE" {
			// "frame: event accepted: ..." has a colon in its name.
			for _, known := range checkNames {
				if strings.HasPrefix(rest, known+": ") {
					name, detail = known, strings.TrimPrefix(rest, known+": ")
				}
			}
			got[name] = verdict{mark, detail}
		}
	}
	if stderr.Len() > 0 {
		t.Logf("stderr: %s", stderr.String())
	}
	return code, got, stdout.String()
}
