// Command filebeat is the stock Filebeat (default inputs) built from this
// module, so that it and websocket.so share the toolchain, build flags and
// every package version: the condition for Go's plugin loader to accept the
// plugin. It is the upstream main with one addition: it loads the plugins
// in the plugins folder of its home path besides those of --plugin
// (package plugindir), as the packages install them.
package main

import (
	"os"

	"github.com/elastic/beats/v7/filebeat/cmd"
	inputs "github.com/elastic/beats/v7/filebeat/input/default-inputs"

	"github.com/beats-websocket/websocket-output/plugindir"
)

func main() {
	plugins := plugindir.TakeFlag()
	root := cmd.Filebeat(inputs.Init, cmd.FilebeatSettings())
	plugins.LoadBeforeCommands(root)
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
