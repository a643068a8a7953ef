// Package wsclient is the websocket output: its configuration, the factory
// libbeat calls, and the client that holds one WebSocket connection.
package wsclient

import (
	"runtime"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/common"
	"github.com/elastic/beats/v7/libbeat/logp"
	"github.com/elastic/beats/v7/libbeat/outputs"
	"github.com/elastic/beats/v7/libbeat/version"
)

// Version is the plugin's version, set at build time by build.sh with
// -ldflags "-X .../wsclient.Version=...".
var Version = "dev"

// MakeOutput is the output factory libbeat calls for output.websocket: it
// reads and validates the configuration and returns one client per worker.
// A bad configuration fails here, so Filebeat stops at start with the error.
func MakeOutput(
	_ outputs.IndexManager,
	_ beat.Info,
	observer outputs.Observer,
	cfg *common.Config,
) (outputs.Group, error) {
	config := defaultConfig()
	if err := cfg.Unpack(&config); err != nil {
		return outputs.Fail(err)
	}

	log := logp.NewLogger("websocket")
	log.Infof("websocket output %s (built with Beats %s, %s): %d worker(s) to %s",
		Version, version.GetDefaultVersion(), runtime.Version(), config.Workers, config.url().Redacted())

	clients := make([]outputs.NetworkClient, config.Workers)
	for i := range clients {
		clients[i] = newClient(config, observer, log)
	}
	// Every worker publishes at once, hence loadbalance.
	return outputs.SuccessNet(true, config.BatchSize, config.RetryLimit, clients)
}
