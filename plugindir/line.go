package plugindir

// The Beats 7.17 line's part: an output factory as its libbeat declares
// one (beats95/plugindir/line.go has 9.5's).

import (
	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/common"
	"github.com/elastic/beats/v7/libbeat/outputs"
)

// registerMissing registers the websocket output type as one whose
// creation fails with err.
func registerMissing(err error) {
	outputs.RegisterType(outputType, func(outputs.IndexManager, beat.Info, outputs.Observer, *common.Config) (outputs.Group, error) {
		return outputs.Fail(err)
	})
}
