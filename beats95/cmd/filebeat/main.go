// Command filebeat is the stock Filebeat of the 9.5 line (default inputs),
// built from this module so that it and websocket.so share the toolchain,
// build flags and every package version: the condition for Go's plugin
// loader to accept the plugin. It is Beats' own filebeat/main.go at the
// version beats95/go.mod pins, which differs from 7.17's (the settings take
// a module namespace, and time/tzdata is linked in), with two additions: it
// loads the plugins in the plugins folder of its home path besides those of
// --plugin (package plugindir), and it sets libbeat's build time
// (stamp.go).
package main

import (
	"os"
	_ "time/tzdata" // as Beats' own main: timezone data for processors

	"github.com/elastic/beats/v7/filebeat/cmd"
	inputs "github.com/elastic/beats/v7/filebeat/input/default-inputs"

	"github.com/beats-websocket/websocket-output/plugindir"
)

func main() {
	plugins := plugindir.TakeFlag()
	root := cmd.Filebeat(inputs.Init, cmd.FilebeatSettings(""))
	plugins.LoadBeforeCommands(root)
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
