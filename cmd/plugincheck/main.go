// Command plugincheck tells, before Filebeat is started with it, whether a
// Go plugin can load into a Filebeat binary:
//
//	plugincheck dist/filebeat dist/websocket.so
//
// Go loads a plugin only into a program built with the same Go release,
// the same export-relevant build settings and identical versions of every
// module the two share, and Filebeat has a --plugin flag only when built
// with cgo. plugincheck reads the build information Go records in both
// binaries and prints "compatible", or one line per mismatch in plain
// words. Exit status: 0 compatible, 1 not, 2 a file could not be read as a
// Go binary.
package main

import (
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
)

const usage = `usage: plugincheck FILEBEAT PLUGIN

Tells whether the Go plugin PLUGIN (websocket.so) can load into the program
FILEBEAT, from the build information of both. Exit status: 0 compatible,
1 not, 2 a file could not be read.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command with its arguments and outputs; it returns the exit
// status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	host, err := buildinfo.ReadFile(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "plugincheck: %s: no Go build information: %v\n", args[0], err)
		return 2
	}
	plugin, err := buildinfo.ReadFile(args[1])
	if err != nil {
		fmt.Fprintf(stderr, "plugincheck: %s: no Go build information: %v\n", args[1], err)
		return 2
	}
	n := names{host: filepath.Base(args[0]), plugin: filepath.Base(args[1])}
	if n.host == n.plugin {
		n = names{host: args[0], plugin: args[1]}
	}

	if setting(host, "-buildmode") == "plugin" && setting(plugin, "-buildmode") != "plugin" {
		fmt.Fprintf(stderr, "plugincheck: %s is a plugin and %s a program: give the program first\n%s", args[0], args[1], usage)
		return 2
	}

	if found := pluginSupport(host, plugin, n); len(found) > 0 {
		fmt.Fprintf(stdout, "incompatible: %s cannot load %s:\n", n.host, n.plugin)
		for _, f := range found {
			fmt.Fprintf(stdout, "  %s\n", f)
		}
		return 1
	}
	found := mismatches(host, plugin, n)
	if len(found) == 0 {
		fmt.Fprintf(stdout, "compatible: %s can load into %s (%s)\n", n.plugin, n.host, agreement(host, plugin))
		return 0
	}
	fmt.Fprintf(stdout, "incompatible: %s cannot load into %s (%d %s):\n", n.plugin, n.host, len(found), plural(len(found), "mismatch", "mismatches"))
	for _, f := range found {
		fmt.Fprintf(stdout, "  %s\n", f)
	}
	fmt.Fprintf(stdout, "Fix: build both from one checkout with ./build.sh, or build %s from a checkout whose go.mod and Go release match those %s was built with (see its BUILDINFO).\n", n.plugin, n.host)
	return 1
}

// agreement says briefly what a compatible pair has in common.
func agreement(host, plugin *debug.BuildInfo) string {
	hm, pm := modules(host), modules(plugin)
	shared := sortedShared(hm, pm)
	s := fmt.Sprintf("%s, the same build settings, the same versions of the %d %s both contain",
		host.GoVersion, len(shared), plural(len(shared), "module", "modules"))
	if beats := hm["github.com/elastic/beats/v7"]; beats != nil && pm[beats.Path] != nil {
		s += ", Beats " + moduleVersion(beats)
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
