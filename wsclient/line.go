package wsclient

// The Beats 7.17 line's part of the adapter: what its libbeat names or
// calls differently from 9.5's (beats95/wsclient/line.go). The other files
// of this package are shared by both lines.

import (
	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/common"
	"github.com/elastic/beats/v7/libbeat/common/transport/httpcommon"
	"github.com/elastic/beats/v7/libbeat/common/transport/tlscommon"
	"github.com/elastic/beats/v7/libbeat/logp"
	"github.com/elastic/beats/v7/libbeat/monitoring"
	"github.com/elastic/beats/v7/libbeat/monitoring/adapter"
	"github.com/elastic/beats/v7/libbeat/outputs"
	"github.com/elastic/beats/v7/libbeat/testing"
	gometrics "github.com/rcrowley/go-metrics"
)

// Line is the Beats line this adapter is built for.
const Line = "7.17"

// The types the shared files use, as Beats 7.17 has them: in libbeat
// itself (9.5 has them in elastic-agent-libs).
type (
	rawConfig     = common.Config
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
	newConfigFrom = common.NewConfigFrom
	newProxyURI   = httpcommon.NewProxyURIFromURL
	newInt        = monitoring.NewInt
	newUint       = monitoring.NewUint
)

// registerHistogram shows h in reg under name, as libbeat shows go-metrics
// histograms: name.histogram.{count,min,max,mean,median,p75,...}.
func registerHistogram(reg *registry, name string, h gometrics.Histogram) {
	_ = adapter.NewGoMetrics(reg, name, adapter.Accept).Register("histogram", h)
}

// outputRegistry returns where the output's own metrics go:
// libbeat.output.websocket in Filebeat's registry when libbeat's pipeline
// loads the output, with its Stats on libbeat.output, made afresh for this
// output; a registry of their own otherwise (filebeat test output). One output
// replaces another's metrics there: a name registered twice would panic.
func outputRegistry(observer outputs.Observer) *registry {
	// libbeat's outputs.Load gives a factory a nil Observer as a
	// NilObserver: only the pipeline's is libbeat's Stats.
	if _, pipeline := observer.(*outputs.Stats); pipeline {
		if out := monitoring.Default.GetRegistry("libbeat.output"); out != nil {
			out.Remove("websocket")
			return out.NewRegistry("websocket")
		}
	}
	return monitoring.NewRegistry()
}

// MakeOutput is the output factory 7.17's libbeat calls for
// output.websocket (newOutput).
func MakeOutput(
	_ outputs.IndexManager,
	info beat.Info,
	observer outputs.Observer,
	cfg *common.Config,
) (outputs.Group, error) {
	reg := func() *registry { return outputRegistry(observer) }
	if observer == nil { // filebeat test output: nothing counts
		observer = outputs.NewNilObserver()
	}
	config, clients, err := newOutput(cfg, info, observer, reg, logp.NewLogger("websocket"))
	if err != nil {
		return outputs.Fail(err)
	}
	// SuccessNet(true, ...) keeps the clients as they are: the failover
	// between hosts is per worker, in newOutput.
	return outputs.SuccessNet(true, config.BatchSize, config.RetryLimit, clients)
}

// Connect dials the server, after a backoff if the last connect or publish
// failed (transport.Client.Connect). libbeat logs its error once.
func (c *Client) Connect() error {
	return c.conn.Connect()
}

// validateLineTLS checks the ssl settings only this line has: none.
func validateLineTLS(*tlsSettings) error { return nil }

// loadTLS loads the ssl settings: nil when there are none.
func loadTLS(c *tlsSettings) (*tlsConfig, error) {
	return tlscommon.LoadTLSConfig(c)
}
