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
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/beats-websocket/websocket-output/receiver"
)

func main() {
	var s receiver.Config
	flag.StringVar(&s.Listen, "listen", "127.0.0.1:8080", "address to listen on (port 0 picks a free port)")
	flag.StringVar(&s.Path, "path", "/echo", "WebSocket endpoint path")
	flag.StringVar(&s.Out, "out", "-", `file the messages are appended to, one a line ("-" is stdout)`)
	flag.StringVar(&s.AddrFile, "addr-file", "", "once listening, write the address (host:port) to this file: how tests and the benchmark learn the port when it was 0")
	flag.DurationVar(&s.StatsEvery, "stats", 0, "log the counts to stderr at this interval (0: only at exit)")
	flag.DurationVar(&s.Drain, "drain", 5*time.Second, "how long shutdown waits for clients to answer the close frame")
	flag.BoolVar(&s.Ack, "ack", false, "acknowledge messages once written to the output (subprotocol beats-ack.v1, PROTOCOL.md)")
	flag.DurationVar(&s.AckInterval, "ack-interval", 5*time.Millisecond, "with -ack: least time between two acks on a connection (acks cover everything written before them); 0: acknowledge each message as soon as it is taken, one ack per message, as the simplest server does")
	flag.Int64Var(&s.CrashAfter, "crash-after", 0, "simulate a crash: exit at once after this many messages, without flushing or acknowledging (0: never)")
	flag.Uint64Var(&s.CloseEvery, "close-every", 0, "close each connection after this many messages, with a close frame of status -close-code and before acknowledging the last ones (0: never)")
	flag.IntVar(&s.CloseCode, "close-code", 1000, "with -close-every: the close frame's status code, such as 1000, 1001, 1008 or 1011")
	flag.StringVar(&s.TLSCert, "tls-cert", "", "serve wss:// with this certificate (PEM); needs -tls-key")
	flag.StringVar(&s.TLSKey, "tls-key", "", "the certificate's key (PEM)")
	flag.StringVar(&s.ClientCA, "client-ca", "", "with -tls-cert: require client certificates signed by this CA (PEM): mutual TLS")
	flag.StringVar(&s.Token, "token", "", "require the handshake header Authorization: Bearer <token> (also read from $WSRECEIVER_TOKEN)")
	flag.StringVar(&s.BasicAuth, "basic-auth", "", "require HTTP basic authentication with this user:password (also read from $WSRECEIVER_BASIC_AUTH)")
	flag.BoolVar(&s.Compression, "compression", false, "accept permessage-deflate compression")
	validate := flag.Bool("validate", true, "count text messages that are not valid UTF-8 and events that are not valid JSON (invalid_utf8, invalid_json); the benchmark turns it off to measure the output, not the check")
	flag.Parse()
	s.NoValidate = !*validate
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("wsreceiver: ")
	// The environment keeps secrets out of the process list.
	if s.Token == "" {
		s.Token = os.Getenv("WSRECEIVER_TOKEN")
	}
	if s.BasicAuth == "" {
		s.BasicAuth = os.Getenv("WSRECEIVER_BASIC_AUTH")
	}
	if s.CloseEvery > 0 && (s.CloseCode < 1000 || s.CloseCode > 4999 || s.CloseCode == 1005 || s.CloseCode == 1006 || s.CloseCode == 1015) {
		log.Fatalf("-close-code %d cannot be sent in a close frame: use 1000-4999, but not 1005, 1006 or 1015", s.CloseCode)
	}
	if s.Token != "" && s.BasicAuth != "" {
		log.Fatal("-token and -basic-auth both need the Authorization header, so no client could pass both: give one")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := receiver.Run(ctx, s); err != nil {
		log.Fatal(err)
	}
}
