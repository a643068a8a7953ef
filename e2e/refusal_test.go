package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Handshake refusals: servers that are not, or will not be, the WebSocket
// endpoint. One Filebeat with loadbalance: true has one client per host,
// each failing and backing off on its own; real nginx plays the refusing
// HTTP servers and counts, in its access logs, every attempt.

// The plugin's defaults: after the n-th failure in a row the wait is drawn
// between backoff.init and backoff.init × 2^(n-1) (capped at backoff.max).
const (
	refusalBackoffInit = time.Second
	refusalWindow      = 30 * time.Second
)

// Every wait is at least backoff.init, so a window holds at most
// window/backoff.init + 1 attempts; a tight loop would make thousands.
const maxRefusalAttempts = int(refusalWindow/refusalBackoffInit) + 1

// At worst each wait is the longest the backoff allows (1s, 2s, 4s, 8s,
// 16s), so the attempts start at 0s, 1s, 3s, 7s, 15s (plus the time the
// attempts take, milliseconds): at least five in a window that starts with
// the first.
const minRefusalAttempts = 5

type refusal struct {
	name  string
	url   string
	count func() []time.Time // when each attempt reached the server
	want  []string           // in Filebeat's "Failed to connect" line
}

func TestRefusal_HandshakeRefusalsAreLoggedAndBackedOff(t *testing.T) {
	t.Parallel() // mostly idle: the window is waiting
	dir := t.TempDir()
	ng := startRefusingNginx(t, dir, newPKI(t, dir))
	closer := startClosingListener(t)

	refusals := []refusal{
		{"401", "ws://" + ng.addr + "/r401", ng.attempts("/r401"),
			[]string{"handshake refused: HTTP 401 Unauthorized", "check the credentials"}},
		{"403", "ws://" + ng.addr + "/r403", ng.attempts("/r403"),
			[]string{"handshake refused: HTTP 403 Forbidden", "check the credentials"}},
		{"404", "ws://" + ng.addr + "/nowhere", ng.attempts("/nowhere"),
			[]string{"handshake refused: HTTP 404 Not Found", "no WebSocket endpoint at this path"}},
		{"500", "ws://" + ng.addr + "/r500", ng.attempts("/r500"),
			[]string{"handshake refused: HTTP 500 Internal Server Error", "the server failed"}},
		{"200 page", "ws://" + ng.addr + "/page", ng.attempts("/page"),
			[]string{"handshake refused: HTTP 200 OK", "not a WebSocket endpoint"}},
		{"ws:// to a TLS port", "ws://" + ng.tlsAddr + "/echo", ng.tlsAttempts,
			[]string{"handshake refused: HTTP 400 Bad Request", "the server expects TLS: use wss://"}},
		{"accepts and closes", "ws://" + closer.addr + "/echo", closer.attempts,
			[]string{"the server closed the connection without answering the handshake"}},
	}
	var hosts []string
	for _, r := range refusals {
		hosts = append(hosts, strconv.Quote(r.url))
	}
	log := filepath.Join(dir, "app.log")
	writeLog(t, log, 0, scenarioLines)
	// Small batches, so that every client always has one to connect for.
	fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), inputFor(log), fmt.Sprintf(
		"hosts: [%s]\nloadbalance: true\nbatch_size: 50\nbackoff.init: %v\nbackoff.max: 60s\n",
		strings.Join(hosts, ", "), refusalBackoffInit))

	// Each host's window starts at its first attempt.
	var last time.Time
	waitFor(t, time.Minute, "a first attempt at every host", func() bool {
		for _, r := range refusals {
			at := r.count()
			if len(at) == 0 {
				return false
			}
			if at[0].After(last) {
				last = at[0]
			}
		}
		return true
	})
	time.Sleep(time.Until(last.Add(refusalWindow + time.Second))) // the window itself, not synchronisation
	if !fb.running() {
		t.Fatalf("Filebeat exited: %v; its log:\n%s", fb.err, fb.tail())
	}
	if s := fb.outputStats(t); s.Events.Acked != 0 {
		t.Fatalf("%d events acknowledged, but no host accepts a WebSocket", s.Events.Acked)
	}
	fb.stop(t)

	logged := fb.output()
	for _, r := range refusals {
		at := r.count()
		n := 0
		for _, a := range at {
			if a.Sub(at[0]) <= refusalWindow {
				n++
			}
		}
		failure := failureLine(logged, r.url, r.want)
		t.Logf("%-20s %2d attempts in %v; Filebeat logged: %s", r.name, n, refusalWindow, failure)
		if failure == "" {
			t.Errorf("%s: no %q line with %q in Filebeat's log", r.name, "Failed to connect to websocket("+r.url+")", r.want)
		}
		if n < minRefusalAttempts || n > maxRefusalAttempts {
			t.Errorf("%s: %d connection attempts in %v, want %d to %d (backoff from %v)",
				r.name, n, refusalWindow, minRefusalAttempts, maxRefusalAttempts, refusalBackoffInit)
		}
	}
}

// failureLine is the first "Failed to connect" line for url that has all of
// want, from "Failed" on, or "" if there is none.
func failureLine(log, url string, want []string) string {
	prefix := "Failed to connect to websocket(" + url + ")"
	for _, l := range strings.Split(log, "\n") {
		if i := strings.Index(l, prefix); i >= 0 && containsAll(l[i:], want) {
			return l[i:]
		}
	}
	return ""
}

// refusingNginx answers 401, 403, 404, 500 and a plain page on addr, and
// speaks only TLS on tlsAddr; each logs every request with its time.
type refusingNginx struct {
	*process
	addr, tlsAddr     string
	accessLog, tlsLog string
}

func startRefusingNginx(t *testing.T, dir string, p pki) *refusingNginx {
	t.Helper()
	dir = filepath.Join(dir, "nginx")
	ng := &refusingNginx{addr: freeAddr(t), tlsAddr: freeAddr(t),
		accessLog: filepath.Join(dir, "access.log"), tlsLog: filepath.Join(dir, "tls-access.log")}
	// No root is served (its html folder does not exist): any other path is
	// a real 404.
	ng.process = runNginx(t, dir, fmt.Sprintf(`  log_format attempts '$msec $status $uri';
  server {
    listen %[1]s;
    access_log %[2]s attempts;
    location = /r401 { return 401; }
    location = /r403 { return 403; }
    location = /r500 { return 500; }
    location = /page { default_type text/html; return 200 "<html><body>Welcome</body></html>\n"; }
  }
  server {
    listen %[3]s ssl;
    access_log %[4]s attempts;
    ssl_certificate %[5]s;
    ssl_certificate_key %[6]s;
    location / { return 200 "TLS only\n"; }
  }
`, ng.addr, ng.accessLog, ng.tlsAddr, ng.tlsLog, p.serverCert, p.serverKey))
	waitListening(t, ng.process, ng.addr)
	waitListening(t, ng.process, ng.tlsAddr)
	return ng
}

// attempts returns a counter of the requests for uri on the plain server.
func (ng *refusingNginx) attempts(uri string) func() []time.Time {
	return func() []time.Time { return accessTimes(ng.accessLog, uri) }
}

// tlsAttempts returns when each plain HTTP request for /echo reached the
// TLS server (nginx answers those with 400).
func (ng *refusingNginx) tlsAttempts() []time.Time { return accessTimes(ng.tlsLog, "/echo") }

// accessTimes returns the times of the requests for uri in an
// access log in the attempts format. The probes of waitListening send no
// request, so nginx does not log them.
func accessTimes(path, uri string) []time.Time {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var at []time.Time
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 || fields[2] != uri {
			continue
		}
		sec, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		at = append(at, time.UnixMilli(int64(sec*1000)))
	}
	return at
}

// closingListener accepts TCP connections and closes each at once, before
// reading anything: no HTTP answer at all.
type closingListener struct {
	addr string
	mu   sync.Mutex
	at   []time.Time
}

func startClosingListener(t *testing.T) *closingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &closingListener{addr: ln.Addr().String()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cl.mu.Lock()
			cl.at = append(cl.at, time.Now())
			cl.mu.Unlock()
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return cl
}

func (cl *closingListener) attempts() []time.Time {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return append([]time.Time(nil), cl.at...)
}
