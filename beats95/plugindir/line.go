package plugindir

// The Beats 9.5 line's part: an output factory as its libbeat declares
// one (plugindir/line.go has 7.17's).

import (
	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/outputs"
	"github.com/elastic/elastic-agent-libs/config"
	"github.com/elastic/elastic-agent-libs/paths"
)

// registerMissing registers the websocket output type as one whose
// creation fails with err.
func registerMissing(err error) {
	outputs.RegisterType(outputType, func(outputs.IndexManager, beat.Info, outputs.Observer, *config.C, *paths.Path) (outputs.Group, error) {
		return outputs.Fail(err)
	})
}
