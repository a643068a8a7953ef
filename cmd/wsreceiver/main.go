// Command wsreceiver is the reference WebSocket server for the websocket
// output: it accepts connections on one path, writes every message it
// receives as a line to stdout or a file, and reports counts. It is the
// demo's server and the end-to-end tests' independent peer.
//
//	wsreceiver -listen 127.0.0.1:8080 -path /echo -out received.log
//
// GET /stats on the same address answers with the counts as JSON, among
// them text messages that are not valid UTF-8 and events that are not valid
// JSON: every message is checked on its own. On SIGTERM or SIGINT it sends
// every client a close frame (1001, going away) and keeps reading until the
// client answers, so that nothing a client wrote before the close is lost;
// then it flushes the output and exits.
//
// With -ack it implements the server side of acknowledged delivery
// (PROTOCOL.md): it selects the beats-ack.v1 subprotocol and acknowledges
// messages once they are written to the output, at most one ack per
// -ack-interval, or one per message with -ack-interval 0. -crash-after N
// simulates a crash: after the N-th message it exits at once, without
// flushing or acknowledging what it holds. -close-every N ends each
// connection after its N-th message with a close frame of status
// -close-code, leaving the last messages unacknowledged.
//
// -tls-cert and -tls-key serve wss://, -client-ca requires client
// certificates (mutual TLS), -token or -basic-auth require credentials in
// the handshake, and -compression accepts permessage-deflate.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// settings are the command line's.
type settings struct {
	listen, path, out string
	statsEvery, drain time.Duration
	tlsCert, tlsKey   string // serve wss with this certificate and key
	clientCA          string // with TLS: require client certificates signed by this CA
	options
}

func main() {
	var s settings
	flag.StringVar(&s.listen, "listen", "127.0.0.1:8080", "address to listen on (port 0 picks a free port)")
	flag.StringVar(&s.path, "path", "/echo", "WebSocket endpoint path")
	flag.StringVar(&s.out, "out", "-", `file the messages are appended to, one a line ("-" is stdout)`)
	flag.DurationVar(&s.statsEvery, "stats", 0, "log the counts to stderr at this interval (0: only at exit)")
	flag.DurationVar(&s.drain, "drain", 5*time.Second, "how long shutdown waits for clients to answer the close frame")
	flag.BoolVar(&s.ack, "ack", false, "acknowledge messages once written to the output (subprotocol beats-ack.v1, PROTOCOL.md)")
	flag.DurationVar(&s.ackInterval, "ack-interval", 5*time.Millisecond, "with -ack: least time between two acks on a connection (acks cover everything written before them); 0: acknowledge each message as soon as it is taken, one ack per message, as the simplest server does")
	flag.Int64Var(&s.crashAfter, "crash-after", 0, "simulate a crash: exit at once after this many messages, without flushing or acknowledging (0: never)")
	flag.Uint64Var(&s.closeEvery, "close-every", 0, "close each connection after this many messages, with a close frame of status -close-code and before acknowledging the last ones (0: never)")
	flag.IntVar(&s.closeCode, "close-code", 1000, "with -close-every: the close frame's status code, such as 1000, 1001, 1008 or 1011")
	flag.StringVar(&s.tlsCert, "tls-cert", "", "serve wss:// with this certificate (PEM); needs -tls-key")
	flag.StringVar(&s.tlsKey, "tls-key", "", "the certificate's key (PEM)")
	flag.StringVar(&s.clientCA, "client-ca", "", "with -tls-cert: require client certificates signed by this CA (PEM): mutual TLS")
	flag.StringVar(&s.token, "token", "", "require the handshake header Authorization: Bearer <token> (also read from $WSRECEIVER_TOKEN)")
	flag.StringVar(&s.basicAuth, "basic-auth", "", "require HTTP basic authentication with this user:password (also read from $WSRECEIVER_BASIC_AUTH)")
	flag.BoolVar(&s.compression, "compression", false, "accept permessage-deflate compression")
	validate := flag.Bool("validate", true, "count text messages that are not valid UTF-8 and events that are not valid JSON (invalid_utf8, invalid_json); the benchmark turns it off to measure the output, not the check")
	flag.Parse()
	s.noValidate = !*validate
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("wsreceiver: ")
	// The environment keeps secrets out of the process list.
	if s.token == "" {
		s.token = os.Getenv("WSRECEIVER_TOKEN")
	}
	if s.basicAuth == "" {
		s.basicAuth = os.Getenv("WSRECEIVER_BASIC_AUTH")
	}
	if s.closeEvery > 0 && (s.closeCode < 1000 || s.closeCode > 4999 || s.closeCode == 1005 || s.closeCode == 1006 || s.closeCode == 1015) {
		log.Fatalf("-close-code %d cannot be sent in a close frame: use 1000-4999, but not 1005, 1006 or 1015", s.closeCode)
	}
	if s.token != "" && s.basicAuth != "" {
		log.Fatal("-token and -basic-auth both need the Authorization header, so no client could pass both: give one")
	}

	if err := run(s); err != nil {
		log.Fatal(err)
	}
}

func run(s settings) error {
	tlsConfig, err := loadTLS(s.tlsCert, s.tlsKey, s.clientCA)
	if err != nil {
		return err
	}
	sink, err := openSink(s.out)
	if err != nil {
		return err
	}
	defer sink.close()

	tcp, err := net.Listen("tcp", s.listen)
	if err != nil {
		return err
	}
	recv := newReceiver(sink, s.options)
	// Counted below TLS: what goes over the network.
	var ln net.Listener = &countingListener{Listener: tcp, n: &recv.wireBytes}
	scheme := "ws"
	if tlsConfig != nil {
		ln, scheme = tls.NewListener(ln, tlsConfig), "wss"
	}
	mux := http.NewServeMux()
	mux.Handle(s.path, recv)
	mux.HandleFunc("/stats", recv.serveStats)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)} // TLS handshake failures are the clients' business

	// Tests read this line to learn the port when it was 0.
	log.Printf("listening on %s://%s%s %s", scheme, tcp.Addr(), s.path, s.describe(tlsConfig != nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if s.statsEvery > 0 {
		go func() {
			t := time.NewTicker(s.statsEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					log.Print(recv.stats())
				}
			}
		}()
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}

	// Stop accepting, then let the WebSocket connections (which the HTTP
	// server no longer tracks once upgraded) finish what is in flight.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.drain)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	recv.shutdown(s.drain)
	if err := sink.close(); err != nil {
		return fmt.Errorf("flush output: %w", err)
	}
	log.Printf("stopped: %v", recv.stats())
	return nil
}

// describe says, for the start-up line, what the receiver requires and
// offers; it never shows a secret.
func (s settings) describe(tls bool) string {
	var parts []string
	if s.ack {
		parts = append(parts, "with acks ("+protocol.Subprotocol+")")
	} else {
		parts = append(parts, "without acks")
	}
	if tls && s.clientCA != "" {
		parts = append(parts, "client certificates required")
	}
	if s.token != "" {
		parts = append(parts, "bearer token required")
	}
	if s.basicAuth != "" {
		parts = append(parts, "basic auth required")
	}
	if s.compression {
		parts = append(parts, "compression accepted")
	}
	return strings.Join(parts, ", ")
}
