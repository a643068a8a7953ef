package wsclient

// The Beats 9.5 line's part of the adapter: what its libbeat names or
// calls differently from 7.17's (wsclient/line.go in the root module).
// Every other file of this package is a link to the root module's
// wsclient, the one source of both lines (docs/lines.md).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/outputs"
	conf "github.com/elastic/elastic-agent-libs/config"
	"github.com/elastic/elastic-agent-libs/logp"
	"github.com/elastic/elastic-agent-libs/monitoring"
	"github.com/elastic/elastic-agent-libs/monitoring/adapter"
	"github.com/elastic/elastic-agent-libs/paths"
	"github.com/elastic/elastic-agent-libs/testing"
	"github.com/elastic/elastic-agent-libs/transport/httpcommon"
	"github.com/elastic/elastic-agent-libs/transport/tlscommon"
	gometrics "github.com/rcrowley/go-metrics"
)

// Line is the Beats line this adapter is built for.
const Line = "9.5"

// The types the shared files use, as Beats 9.5 has them: in
// elastic-agent-libs (7.17 has them in libbeat itself).
type (
	rawConfig     = conf.C
	tlsSettings   = tlscommon.Config
	tlsConfig     = tlscommon.TLSConfig
	verification  = tlscommon.TLSVerificationMode
	proxySettings = httpcommon.HTTPClientProxySettings
	logger        = logp.Logger
	driver        = testing.Driver
	registry      = monitoring.Registry
	intVar        = monitoring.Int
	uintVar       = monitoring.Uint
)

const (
	verifyFull        = tlscommon.VerifyFull
	verifyStrict      = tlscommon.VerifyStrict
	verifyCertificate = tlscommon.VerifyCertificate
	verifyNone        = tlscommon.VerifyNone
)

var (
	newConfigFrom = conf.NewConfigFrom
	newInt        = monitoring.NewInt
	newUint       = monitoring.NewUint
	newProxyURI   = httpcommon.NewProxyURIFromURL
)

// MakeOutput is the output factory 9.5's libbeat calls for
// output.websocket (newOutput). Its settings are 7.17's: this output has
// no output-level queue setting, so the pipeline's queue applies, and no
// encoder factory, so the queue holds events as libbeat makes them.
func MakeOutput(
	_ outputs.IndexManager,
	info beat.Info,
	observer outputs.Observer,
	cfg *conf.C,
	beatPaths *paths.Path,
) (outputs.Group, error) {
	log := info.Logger
	if log == nil {
		log = logp.NewLogger("")
	}
	log = log.Named("websocket")
	reg := func() *registry { return outputRegistry(observer) }
	config, clients, err := newOutput(cfg, info, renamed{observerOrNil(observer)}, reg, log)
	if err != nil {
		return outputs.Fail(err)
	}
	// loadbalance true keeps the clients as they are: the failover
	// between hosts is per worker, in newOutput.
	return outputs.SuccessNet(conf.Namespace{}, true, config.BatchSize, config.RetryLimit, nil, log, beatPaths, clients)
}

// observerOrNil is observer, or one that counts nothing when libbeat gives
// none, as `filebeat test output` does.
func observerOrNil(observer outputs.Observer) outputs.Observer {
	if observer == nil {
		return outputs.NewNilObserver()
	}
	return observer
}

// renamed is 9.5's Observer with 7.17's names of its methods (stats).
type renamed struct{ outputs.Observer }

func (o renamed) Acked(n int)   { o.AckedEvents(n) }
func (o renamed) Failed(n int)  { o.RetryableErrors(n) }
func (o renamed) Dropped(n int) { o.PermanentErrors(n) }

// registerHistogram shows h in reg under name, as libbeat shows go-metrics
// histograms: name.histogram.{count,min,max,mean,median,p75,...}.
func registerHistogram(reg *registry, name string, h gometrics.Histogram) {
	_ = adapter.NewGoMetrics(reg, name, logp.NewLogger("websocket"), adapter.Accept).Register("histogram", h)
}

// outputRegistry returns where the output's own metrics go:
// libbeat.output.websocket in Filebeat's registry when libbeat's pipeline
// loads the output, with its Stats on libbeat.output, made afresh for this
// output; a registry of their own otherwise (filebeat test output). One output
// replaces another's metrics there: a name registered twice would panic.
// A standalone Filebeat's stats registry is monitoring.Default
// (beatmonitoring.NewGlobalMonitoring).
func outputRegistry(observer outputs.Observer) *registry {
	// libbeat's outputs.Load gives a factory a nil Observer as a
	// NilObserver: only the pipeline's is libbeat's Stats.
	if _, pipeline := observer.(*outputs.Stats); pipeline {
		if out := monitoring.Default.GetRegistry("libbeat.output"); out != nil {
			out.Remove("websocket")
			return out.GetOrCreateRegistry("websocket")
		}
	}
	return monitoring.NewRegistry()
}

// Connect dials the server, after a backoff if the last connect or publish
// failed (transport.Client.Connect). libbeat logs its error once. Close,
// not ctx, ends a backoff wait or a handshake early, as on 7.17.
func (c *Client) Connect(_ context.Context) error {
	return c.conn.Connect()
}

// validateLineTLS checks the ssl settings 9.5 has and 7.17 has not, which
// its library checks only at the first handshake, if at all:
// ca_trusted_fingerprint, a CA's SHA-256 in hex, and key_passphrase_path, a
// file to read.
func validateLineTLS(tls *tlsSettings) error {
	if fp := tls.CATrustedFingerprint; fp != "" {
		if b, err := hex.DecodeString(strings.ReplaceAll(fp, ":", "")); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("ssl.ca_trusted_fingerprint: %q is not a SHA-256 fingerprint in hex (64 hex digits)", fp)
		}
	}
	if path := tls.Certificate.PassphrasePath; path != "" {
		if err := readable(path); err != nil {
			return fmt.Errorf("ssl.key_passphrase_path: %w", err)
		}
	}
	return nil
}

// loadTLS loads the ssl settings: nil when there are none.
func loadTLS(c *tlsSettings) (*tlsConfig, error) {
	return tlscommon.LoadTLSConfig(c, logp.NewLogger("websocket"))
}
