// Package receiver is the reference WebSocket server for the websocket
// output (cmd/wsreceiver is its command): it accepts connections on one
// path, appends every message it receives as a line to a file, counts what
// it gets (Stats, served as JSON on /stats) and, with acks, implements the
// server side of beats-ack.v1 (PROTOCOL.md). The end-to-end tests and the
// benchmark run it as the independent peer, and read its Stats.
package receiver

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/beats-websocket/websocket-output/transport/protocol"
)

// Config is a receiver server: where it listens and writes, and what it
// requires of its clients and how it answers them.
type Config struct {
	Listen     string        // address to listen on; port 0 picks a free port
	Path       string        // the WebSocket endpoint's path
	Out        string        // file the messages are appended to, one a line; "-" is stdout
	AddrFile   string        // if set, where the address listened on (host:port) is written once listening
	StatsEvery time.Duration // log the counts at this interval; 0: only at exit
	Drain      time.Duration // how long shutdown waits for clients to answer the close frame
	TLSCert    string        // serve wss:// with this certificate (PEM) ...
	TLSKey     string        // ... and key
	ClientCA   string        // with TLS: require client certificates signed by this CA (PEM)

	Ack         bool          // select beats-ack.v1 and acknowledge what is written
	AckInterval time.Duration // least time between two acks on a connection
	CrashAfter  int64         // exit at once after this many messages; 0: never
	CloseEvery  uint64        // close each connection after this many messages; 0: never
	CloseCode   int           // the close frame's status code for CloseEvery
	Token       string        // require Authorization: Bearer <Token>; "": no
	BasicAuth   string        // require basic authentication as user:password; "": no
	Compression bool          // accept permessage-deflate
	NoValidate  bool          // skip counting invalid UTF-8 and JSON
}

// options are the receiver's part of the Config.
func (s Config) options() options {
	return options{
		ack: s.Ack, ackInterval: s.AckInterval, crashAfter: s.CrashAfter,
		closeEvery: s.CloseEvery, closeCode: s.CloseCode, token: s.Token,
		basicAuth: s.BasicAuth, compression: s.Compression, noValidate: s.NoValidate,
	}
}

// Run serves cfg until ctx ends, then shuts down gracefully: every client
// gets a close frame (1001, going away) and the receiver keeps reading until
// it answers, at most cfg.Drain, so that nothing a client wrote before the
// close is lost; then the output is flushed. Once listening it logs where,
// and writes the address to cfg.AddrFile if set.
func Run(ctx context.Context, cfg Config) error {
	s := cfg
	tlsConfig, err := loadTLS(s.TLSCert, s.TLSKey, s.ClientCA)
	if err != nil {
		return err
	}
	sink, err := openSink(s.Out)
	if err != nil {
		return err
	}
	defer sink.close()

	tcp, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return err
	}
	recv := newReceiver(sink, s.options())
	// Counted below TLS: what goes over the network.
	var ln net.Listener = &countingListener{Listener: tcp, n: &recv.wireBytes}
	scheme := "ws"
	if tlsConfig != nil {
		ln, scheme = tls.NewListener(ln, tlsConfig), "wss"
	}
	mux := http.NewServeMux()
	mux.Handle(s.Path, recv)
	mux.HandleFunc("/stats", recv.serveStats)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)} // TLS handshake failures are the clients' business

	log.Printf("listening on %s://%s%s %s", scheme, tcp.Addr(), s.Path, s.describe(tlsConfig != nil))
	if s.AddrFile != "" {
		if err := writeAddr(s.AddrFile, tcp.Addr().String()); err != nil {
			tcp.Close()
			return err
		}
	}
	if s.StatsEvery > 0 {
		go func() {
			t := time.NewTicker(s.StatsEvery)
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
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.Drain)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	recv.shutdown(s.Drain)
	if err := sink.close(); err != nil {
		return fmt.Errorf("flush output: %w", err)
	}
	log.Printf("stopped: %v", recv.stats())
	return nil
}

// describe says, for the start-up line, what the receiver requires and
// offers; it never shows a secret.
func (s Config) describe(tls bool) string {
	var parts []string
	if s.Ack {
		parts = append(parts, "with acks ("+protocol.Subprotocol+")")
	} else {
		parts = append(parts, "without acks")
	}
	if tls && s.ClientCA != "" {
		parts = append(parts, "client certificates required")
	}
	if s.Token != "" {
		parts = append(parts, "bearer token required")
	}
	if s.BasicAuth != "" {
		parts = append(parts, "basic auth required")
	}
	if s.Compression {
		parts = append(parts, "compression accepted")
	}
	return strings.Join(parts, ", ")
}

// writeAddr writes addr to path in one step (a temporary file renamed), so
// that a reader never sees it half written.
func writeAddr(path, addr string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".addr-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(addr + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
