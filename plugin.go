// Package main is the websocket output as a Filebeat plugin:
//
//	go build -buildmode=plugin -o websocket.so .
//	filebeat --plugin ./websocket.so
//
// Everything but the registration lives in the wsclient and encode packages.
package main

import (
	"github.com/elastic/beats/v7/libbeat/outputs"
	"github.com/elastic/beats/v7/libbeat/plugin"

	"github.com/beats-websocket/websocket-output/wsclient"
)

// Bundle is the symbol Filebeat's plugin loader looks up: it registers the
// "websocket" output type when the plugin is loaded.
var Bundle = plugin.Bundle(
	outputs.Plugin("websocket", wsclient.MakeOutput),
)

// main is never run: a plugin's entry point is Bundle. It exists so that
// `go build ./...` and `go vet ./...` accept this package.
func main() {}
