package main

import (
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/beats-websocket/websocket-output/testbed"
)

// The benchmark's inputs: the padded lines of the throughput cases, all
// alike but for a few numbers, and realistic lines for the cases whose
// cost depends on the content (compression).

// inputKind names an input.
type inputKind string

const (
	padded    inputKind = "padded"
	realistic inputKind = "realistic"
)

// input returns the path of the input of kind with n lines, writing it if
// needed. A file is written under a temporary name and renamed when
// complete, so that an interrupted run leaves none that looks whole.
func (b *bench) input(kind inputKind, n int) (string, error) {
	path := filepath.Join(b.work, fmt.Sprintf("input-%d.log", n))
	gen := testbed.BenchLine
	if kind == realistic {
		path = filepath.Join(b.work, fmt.Sprintf("input-realistic-v1-%d.log", n))
		gen = realLines(n)
	}
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	log.Printf("generating %s", path)
	f, err := os.CreateTemp(b.work, ".input-*")
	if err != nil {
		return "", err
	}
	if err := testbed.WriteLines(f, 0, n, gen); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(f.Name(), path)
}

// realLines returns a generator of n realistic log lines, the same every
// time (a fixed seed), so that every machine measures the same input: a
// mix of web server access lines, application lines with request ids and
// figures, syslog lines and Java-style warnings, 80 to 400 bytes, about 200
// on average. Request ids, addresses, times and figures vary as in real
// logs, so the lines compress about as real ones do (several times, not
// the padded lines' twenty-odd).
func realLines(n int) func(i int) string {
	r := rand.New(rand.NewPCG(1, 15))
	start := time.Date(2024, 3, 1, 12, 30, 45, 0, time.UTC)
	return func(i int) string {
		at := start.Add(time.Duration(i) * 3137 * time.Microsecond)
		switch k := r.IntN(10); {
		case k < 4:
			return accessLine(r, at)
		case k < 7:
			return appLine(r, at)
		case k < 9:
			return syslogLine(r, at)
		default:
			return javaLine(r, at)
		}
	}
}

var (
	methods  = []string{"GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "HEAD"}
	statuses = []int{200, 200, 200, 200, 200, 200, 201, 204, 301, 304, 400, 401, 403, 404, 404, 500, 502, 503}
	paths    = []string{"/api/v1/items", "/api/v1/orders", "/api/v2/users", "/static/js/app.bundle.js", "/static/css/main.css",
		"/login", "/logout", "/search", "/api/v1/cart", "/health", "/metrics", "/images/products", "/checkout/confirm"}
	agents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
		"curl/8.5.0", "kube-probe/1.29", "Go-http-client/1.1", "python-requests/2.31.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
	}
	levels   = []string{"INFO", "INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"}
	services = []string{"orders", "billing", "auth", "inventory", "gateway", "search", "mailer"}
	verbs    = []string{"created order", "charged card for", "refreshed token of", "reserved stock for", "forwarded request of",
		"indexed document of", "queued mail to", "cancelled order", "retried payment of"}
	hosts   = []string{"web-01", "web-02", "web-03", "db-01", "cache-02", "worker-07"}
	daemons = []string{"sshd", "CRON", "systemd", "kernel", "dockerd", "postfix/smtpd"}
	events  = []string{"Accepted publickey for deploy from %s port %d ssh2", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
		"Started Session %d of user deploy.", "TCP: request_sock_TCP: Possible SYN flooding on port %d. Sending cookies.",
		"connect from unknown[%s]", "Disconnected from user deploy %s port %d"}
	classes = []string{"c.e.billing.InvoiceService", "c.e.orders.OrderController", "o.h.engine.jdbc.spi.SqlExceptionHelper",
		"c.e.auth.TokenFilter", "o.a.kafka.clients.NetworkClient"}
	problems = []string{"retrying payment %d after timeout (attempt %d/5)", "slow query took %d ms: select * from orders where customer_id = %d",
		"connection to node %d could not be established. Broker may not be available.", "token expired for session %x, refreshing (%d ms left)"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func ip(r *rand.Rand) string {
	return fmt.Sprintf("%d.%d.%d.%d", pick(r, []int{10, 172, 192, 81, 93}), r.IntN(256), r.IntN(256), 1+r.IntN(254))
}

func accessLine(r *rand.Rand, at time.Time) string {
	q := ""
	if r.IntN(3) == 0 {
		q = fmt.Sprintf("?page=%d&sort=%s", r.IntN(40), pick(r, []string{"price", "date", "name"}))
	}
	return fmt.Sprintf(`%s - %s [%s] "%s %s/%d%s HTTP/1.1" %d %d "https://shop.example.com%s" "%s" rt=%.3f`,
		ip(r), pick(r, []string{"-", "-", "alice", "bob", "carol"}), at.Format("02/Jan/2006:15:04:05 -0700"),
		pick(r, methods), pick(r, paths), r.IntN(100000), q, pick(r, statuses), r.IntN(200000),
		pick(r, paths), pick(r, agents), r.Float64()*0.8)
}

func appLine(r *rand.Rand, at time.Time) string {
	return fmt.Sprintf("%s %-5s [%s] request_id=%016x %s %d for customer %d total=%d.%02d EUR items=%d latency_ms=%d",
		at.Format("2006-01-02T15:04:05.000Z07:00"), pick(r, levels), pick(r, services), r.Uint64(),
		pick(r, verbs), 100000+r.IntN(900000), r.IntN(99999), r.IntN(500), r.IntN(100), 1+r.IntN(9), r.IntN(900))
}

func syslogLine(r *rand.Rand, at time.Time) string {
	ev := pick(r, events)
	switch strings.Count(ev, "%") {
	case 1:
		if strings.Contains(ev, "%s") {
			ev = fmt.Sprintf(ev, ip(r))
		} else {
			ev = fmt.Sprintf(ev, r.IntN(65536))
		}
	case 2:
		ev = fmt.Sprintf(ev, ip(r), 1024+r.IntN(64000))
	}
	return fmt.Sprintf("%s %s %s[%d]: %s", at.Format("Jan _2 15:04:05"), pick(r, hosts), pick(r, daemons), 300+r.IntN(30000), ev)
}

func javaLine(r *rand.Rand, at time.Time) string {
	return fmt.Sprintf("%s %s [pool-%d-thread-%d] %s - %s", at.Format("2006-01-02 15:04:05,000"), pick(r, []string{"WARN", "ERROR"}),
		1+r.IntN(8), 1+r.IntN(32), pick(r, classes), fmt.Sprintf(pick(r, problems), r.IntN(100000), r.IntN(10000)))
}
