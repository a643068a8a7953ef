// Package wsclient is the websocket output: its configuration, the factory
// libbeat calls, and the client that holds one WebSocket connection.
package wsclient

import (
	"fmt"
	"runtime"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/common"
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
	// Beats' own outputs call it worker; here it is workers, as in the
	// original design. Ignoring the other spelling would silently give
	// one connection.
	if cfg.HasField("worker") {
		return outputs.Fail(fmt.Errorf("worker: this output's setting is workers (the number of connections)"))
	}
	config := defaultConfig()
	if err := cfg.Unpack(&config); err != nil {
		return outputs.Fail(err)
	}

	log := logp.NewLogger("websocket")
	log.Infof("websocket output %s (built with Beats %s, %s): %d worker(s) to %s, frame: %s, %s, %s",
		Version, version.GetDefaultVersion(), runtime.Version(), config.Workers, config.url().Redacted(),
		config.Frame, config.encoding(), config.delivery())

	clients := make([]outputs.NetworkClient, config.Workers)
	for i := range clients {
		enc, err := newEncoder(config, info)
		if err != nil {
			return outputs.Fail(err)
		}
		clients[i] = newClient(config, enc, observer, log)
	}
	// Every worker publishes at once, hence loadbalance.
	return outputs.SuccessNet(true, config.BatchSize, config.RetryLimit, clients)
}

// newEncoder returns a client's encoder: the original format, or the
// configured libbeat codec. Each client needs its own: encoders reuse
// buffers.
func newEncoder(cfg config, info beat.Info) (encode.Encoder, error) {
	if !cfg.Codec.Namespace.IsSet() {
		return encode.NewDefault(cfg.MaxLen), nil
	}
	c, err := codec.CreateEncoder(info, cfg.Codec)
	if err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	return encode.NewCodec(c, info.Beat, encode.CodecOptions{
		MaxLen:     cfg.MaxLen,
		Text:       cfg.Opcode == opcodeText,
		SingleLine: cfg.Frame == frameBatch,
	}), nil
}
