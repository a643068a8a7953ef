// Command wsreceiver is the reference WebSocket server for the websocket
// output: it accepts connections on one path, writes every message it
// receives as a line to stdout or a file, and reports counts. It is the
// demo's server and the end-to-end tests' independent peer.
//
//	wsreceiver -listen 127.0.0.1:8080 -path /echo -out received.log
//
// GET /stats on the same address answers with the counts as JSON. On SIGTERM
// or SIGINT it sends every client a close frame (1001, going away) and keeps
// reading until the client answers, so that nothing a client wrote before
// the close is lost; then it flushes the output and exits.
//
// With -ack it implements the server side of acknowledged delivery
// (PROTOCOL.md): it selects the beats-ack.v1 subprotocol and acknowledges
// messages once they are written to the output. -crash-after N simulates a
// crash: after the N-th message it exits at once, without flushing or
// acknowledging what it holds.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var (
		listen     = flag.String("listen", "127.0.0.1:8080", "address to listen on (port 0 picks a free port)")
		path       = flag.String("path", "/echo", "WebSocket endpoint path")
		out        = flag.String("out", "-", `file the messages are appended to, one a line ("-" is stdout)`)
		statsEvery = flag.Duration("stats", 0, "log the counts to stderr at this interval (0: only at exit)")
		drain      = flag.Duration("drain", 5*time.Second, "how long shutdown waits for clients to answer the close frame")
		ack        = flag.Bool("ack", false, "acknowledge messages once written to the output (subprotocol beats-ack.v1, PROTOCOL.md)")
		ackEvery   = flag.Duration("ack-interval", 5*time.Millisecond, "with -ack: least time between two acks on a connection (acks cover everything written before them)")
		crashAfter = flag.Int64("crash-after", 0, "simulate a crash: exit at once after this many messages, without flushing or acknowledging (0: never)")
	)
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("wsreceiver: ")

	if err := run(*listen, *path, *out, *statsEvery, *drain, *ack, *ackEvery, *crashAfter); err != nil {
		log.Fatal(err)
	}
}

func run(listen, path, out string, statsEvery, drain time.Duration, ack bool, ackInterval time.Duration, crashAfter int64) error {
	sink, err := openSink(out)
	if err != nil {
		return err
	}
	defer sink.close()

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	recv := newReceiver(sink, ack, ackInterval, crashAfter)
	mux := http.NewServeMux()
	mux.Handle(path, recv)
	mux.HandleFunc("/stats", recv.serveStats)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	// Tests read this line to learn the port when it was 0.
	mode := "without acks"
	if ack {
		mode = "with acks (" + ackSubprotocol + ")"
	}
	log.Printf("listening on ws://%s%s %s", ln.Addr(), path, mode)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if statsEvery > 0 {
		go func() {
			t := time.NewTicker(statsEvery)
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
	shutdownCtx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	recv.shutdown(drain)
	if err := sink.close(); err != nil {
		return fmt.Errorf("flush output: %w", err)
	}
	log.Printf("stopped: %v", recv.stats())
	return nil
}
