// Package wsclient is the websocket output: its configuration, the factory
// libbeat calls, and the client that holds one WebSocket connection.
package wsclient

import (
	"fmt"
	"runtime"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/common"
	"github.com/elastic/beats/v7/libbeat/common/transport/tlscommon"
	"github.com/elastic/beats/v7/libbeat/logp"
	"github.com/elastic/beats/v7/libbeat/outputs"
	"github.com/elastic/beats/v7/libbeat/outputs/codec"
	_ "github.com/elastic/beats/v7/libbeat/outputs/codec/format" // registers codec.format
	_ "github.com/elastic/beats/v7/libbeat/outputs/codec/json"   // registers codec.json
	"github.com/elastic/beats/v7/libbeat/version"

	"github.com/beats-websocket/websocket-output/encode"
)

// Version is the plugin's version, set at build time by build.sh with
// -ldflags "-X .../wsclient.Version=...".
var Version = "dev"

// MakeOutput is the output factory libbeat calls for output.websocket: it
// reads and validates the configuration and returns one client per worker.
// A bad configuration fails here, so Filebeat stops at start with the error.
func MakeOutput(
	_ outputs.IndexManager,
	info beat.Info,
	observer outputs.Observer,
	cfg *common.Config,
) (outputs.Group, error) {
	if err := checkServerKeys(cfg); err != nil {
		return outputs.Fail(err)
	}
	if err := checkBeatsNames(cfg); err != nil {
		return outputs.Fail(err)
	}
	if err := checkShapes(cfg); err != nil {
		return outputs.Fail(err)
	}
	config := defaultConfig()
	if err := cfg.Unpack(&config); err != nil {
		return outputs.Fail(err)
	}
	tlsConfig, err := tlscommon.LoadTLSConfig(config.TLS)
	if err != nil {
		return outputs.Fail(fmt.Errorf("ssl: %w", err))
	}

	log := logp.NewLogger("websocket")
	urls := config.urls()
	log.Infof("websocket output %s (built with Beats %s, %s): %s, batch_size: %d, retry_limit: %d, frame: %s, %s, %s%s",
		Version, version.GetDefaultVersion(), runtime.Version(), config.describeHosts(urls),
		config.BatchSize, config.RetryLimit, config.Frame, config.encoding(), config.delivery(), config.describeConnection())
	if host := config.cleartextHost(urls); host != "" {
		log.Warnf("headers and credentials go unencrypted to %s: use wss:// to protect them", host)
	}
	if tlsConfig != nil && tlsConfig.Verification == tlscommon.VerifyNone {
		log.Warn("ssl.verification_mode: none: the server's certificate is not checked, so anyone on the path can read and alter the events; use it only for tests")
	}

	endpoints := make([]*endpoint, len(urls))
	for i, u := range urls {
		endpoints[i] = newEndpoint(config, u, tlsConfig)
	}
	// Every worker publishes at once. With loadbalance each has its own
	// host; without, each fails over between all hosts on its own, with
	// libbeat's failover client. Either way a host gets up to workers
	// connections.
	var clients []outputs.NetworkClient
	for w := 0; w < config.Workers; w++ {
		perHost := make([]*Client, len(endpoints))
		for i, ep := range endpoints {
			enc, err := newEncoder(config, info)
			if err != nil {
				return outputs.Fail(err)
			}
			perHost[i] = newClient(config, ep, enc, observer, log)
		}
		if config.LoadBalance || len(perHost) == 1 {
			for _, c := range perHost {
				clients = append(clients, c)
			}
		} else {
			clients = append(clients, newFailover(perHost))
		}
	}
	// SuccessNet(true, ...) keeps the clients as they are: the failover
	// between hosts is per worker, above.
	return outputs.SuccessNet(true, config.BatchSize, config.RetryLimit,
		withTest(clients, newOutputTest(config, endpoints, tlsConfig)))
}

// failover is libbeat's failover client over one worker's clients, one per
// host, with a Close that ends them all. libbeat's own closes only the
// active client, so a Connect after it would open another host's
// connection that nothing closes.
type failover struct {
	outputs.NetworkClient
	clients []*Client
}

func newFailover(clients []*Client) *failover {
	network := make([]outputs.NetworkClient, len(clients))
	for i, c := range clients {
		network[i] = c
	}
	return &failover{NetworkClient: outputs.NewFailoverClient(network), clients: clients}
}

// Close closes every host's client; afterwards Connect fails on any of
// them. Safe from any goroutine, as Client.Close.
func (f *failover) Close() error {
	for _, c := range f.clients {
		c.Close()
	}
	return nil
}

// newEncoder returns a client's encoder: the original format, or the
// configured libbeat codec. Each client needs its own: encoders reuse
// buffers.
func newEncoder(cfg config, info beat.Info) (encode.Encoder, error) {
	if !cfg.Codec.Namespace.IsSet() {
		return encode.NewDefault(cfg.MaxLen), nil
	}
	codecConfig, err := cfg.codecConfig()
	if err != nil {
		return nil, err
	}
	c, err := codec.CreateEncoder(info, codecConfig)
	if err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	return encode.NewCodec(c, info.Beat, encode.CodecOptions{
		MaxLen:     cfg.MaxLen,
		Text:       cfg.Opcode == opcodeText,
		SingleLine: cfg.Frame == frameBatch,
	}), nil
}
