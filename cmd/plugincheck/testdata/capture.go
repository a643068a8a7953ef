//go:build ignore

// capture prints a binary's Go build information in the text form
// runtime/debug.ParseBuildInfo reads; the tests' testdata was made with
//
//	go run ./cmd/plugincheck/testdata/capture.go dist/filebeat >cmd/plugincheck/testdata/filebeat.buildinfo
//	go run ./cmd/plugincheck/testdata/capture.go dist/websocket.so >cmd/plugincheck/testdata/websocket.so.buildinfo
package main

import (
	"debug/buildinfo"
	"fmt"
	"os"
)

func main() {
	bi, err := buildinfo.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Print(bi.String())
}
