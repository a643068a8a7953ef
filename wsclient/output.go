// Package wsclient is the websocket output's adapter to libbeat: its
// configuration, the factory libbeat calls, and the client that publishes
// libbeat's batches over the transport's connection to one server (package
// transport, which knows nothing of Beats).
//
// One source serves every Beats line (docs/lines.md): the files here are
// compiled in the root module against Beats 7.17 and, linked from
// beats95/wsclient, against Beats 9.5. What differs between the lines'
// libbeat lives in line.go, one per line, which names the types (rawConfig,
// tlsSettings, logger, ...) and calls (MakeOutput, Connect, loadTLS, ...)
// the shared files use; a shared file imports only packages whose path and
// API both lines have.
package wsclient

import (
	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/outputs"

	"github.com/beats-websocket/websocket-output/transport"
)

// Version is the plugin's version, set at build time by build.sh with
// -ldflags "-X .../wsclient.Version=...".
var Version = "dev"

// newOutput reads and validates the configuration and returns it with the
// output's clients: one per worker and host, each testable by `filebeat
// test output`. Each line's MakeOutput (line.go) calls it and hands the
// clients to its libbeat. A bad configuration fails here, so Filebeat
// stops at start with the error.
func newOutput(cfg *rawConfig, info beat.Info, observer stats, log *logger) (config, []outputs.NetworkClient, error) {
	config, tlsConfig, err := readConfig(cfg)
	if err != nil {
		return config, nil, err
	}
	urls := config.urls()
	logStartup(log, config, urls, tlsConfig)

	endpoints := make([]transport.Options, len(urls))
	for i, u := range urls {
		endpoints[i] = endpoint(config, u, tlsConfig)
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
				return config, nil, asConfigError(cfg, err)
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
	return config, withTest(clients, &outputTest{endpoints: endpoints}), nil
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
