// Command filebeat is the stock Filebeat (default inputs) built from this
// module, so that it and websocket.so share the toolchain, build flags and
// every package version: the condition for Go's plugin loader to accept the
// plugin. It is the unmodified upstream main; nothing here is specific to the
// websocket output.
package main

import (
	"os"

	"github.com/elastic/beats/v7/filebeat/cmd"
	inputs "github.com/elastic/beats/v7/filebeat/input/default-inputs"
)

func main() {
	if err := cmd.Filebeat(inputs.Init, cmd.FilebeatSettings()).Execute(); err != nil {
		os.Exit(1)
	}
}
