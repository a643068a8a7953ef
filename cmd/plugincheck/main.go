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
// words. Exit status: 0 compatible, 1 incompatible, 2 a usage error (such
// as the plugin given first) or a file that could not be read as a Go
// binary; -h prints the usage and exits 0.
//
//	plugincheck -capability dist/filebeat [dist/websocket.so]
//
// prints the name of the virtual package that stands for what a plugin
// must match in that Filebeat (see capability): the host package provides
// it, and a plugin package checked against that Filebeat requires it. With
// a plugin, the pair is checked first; if it is incompatible, the report
// goes to stderr and nothing to stdout.
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
       plugincheck -capability FILEBEAT [PLUGIN]

Tells whether the Go plugin PLUGIN (websocket.so) can load into the program
FILEBEAT, from the build information of both. Exit status: 0 compatible,
1 incompatible, 2 a usage error (FILEBEAT must be a program and PLUGIN a
plugin, in that order) or a file that could not be read as a Go binary.

With -capability, prints the name of the virtual package a host package of
FILEBEAT provides and a plugin package requires; with PLUGIN, only if the
two are compatible.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command with its arguments and outputs; it returns the exit
// status.
func run(args []string, stdout, stderr io.Writer) int {
	for _, arg := range args {
		switch {
		case arg == "-h" || arg == "-help" || arg == "--help":
			fmt.Fprint(stdout, usage)
			return 0
		case arg != "-capability" && len(arg) > 1 && arg[0] == '-':
			fmt.Fprintf(stderr, "plugincheck: unknown flag %s\n%s", arg, usage)
			return 2
		}
	}
	if len(args) > 0 && args[0] == "-capability" {
		return runCapability(args[1:], stdout, stderr)
	}
	if len(args) != 2 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	return check(args[0], args[1], stdout, stderr)
}

// check compares the host program at hostPath with the plugin at
// pluginPath, reports to out and returns the exit status.
func check(hostPath, pluginPath string, out, stderr io.Writer) int {
	host, ok := readBinary(hostPath, stderr)
	if !ok {
		return 2
	}
	plugin, ok := readBinary(pluginPath, stderr)
	if !ok {
		return 2
	}
	n := names{host: filepath.Base(hostPath), plugin: filepath.Base(pluginPath)}
	if n.host == n.plugin {
		n = names{host: hostPath, plugin: pluginPath}
	}

	if msg := wrongRoles(host, plugin, hostPath, pluginPath); msg != "" {
		fmt.Fprintf(stderr, "plugincheck: %s\n%s", msg, usage)
		return 2
	}

	if found := pluginSupport(host, plugin, n); len(found) > 0 {
		fmt.Fprintf(out, "incompatible: %s cannot load %s:\n", n.host, n.plugin)
		for _, f := range found {
			fmt.Fprintf(out, "  %s\n", f)
		}
		return 1
	}
	if msg := archMismatch(host, plugin, n); msg != "" {
		fmt.Fprint(out, msg)
		return 1
	}
	if msg := lineMismatch(host, plugin, n); msg != "" {
		fmt.Fprint(out, msg)
		return 1
	}
	found := mismatches(host, plugin, n)
	if len(found) == 0 {
		fmt.Fprintf(out, "compatible: %s can load into %s (%s)\n", n.plugin, n.host, agreement(host, plugin))
		return 0
	}
	fmt.Fprintf(out, "incompatible: %s cannot load into %s (%d %s):\n", n.plugin, n.host, len(found), plural(len(found), "mismatch", "mismatches"))
	for _, f := range found {
		fmt.Fprintf(out, "  %s\n", f)
	}
	fmt.Fprintf(out, "Fix: build both from one checkout with ./build.sh, or build %s from a checkout whose go.mod and Go release match those %s was built with (see its BUILDINFO).\n", n.plugin, n.host)
	return 1
}

// wrongRoles says how the arguments are wrong when the first is not a
// program or the second not a plugin: a usage error, not an incompatible
// pair. "" when they are a program and a plugin.
func wrongRoles(host, plugin *debug.BuildInfo, hostPath, pluginPath string) string {
	hostIsPlugin, pluginIsPlugin := setting(host, "-buildmode") == "plugin", setting(plugin, "-buildmode") == "plugin"
	switch {
	case hostIsPlugin && !pluginIsPlugin:
		return fmt.Sprintf("%s is a plugin and %s a program: give the program first", hostPath, pluginPath)
	case hostIsPlugin:
		return fmt.Sprintf("%s and %s are both plugins: give Filebeat first, then the plugin", hostPath, pluginPath)
	case !pluginIsPlugin:
		return fmt.Sprintf("%s and %s are both programs (%s was built with -buildmode=%s): give Filebeat first, then the plugin", hostPath, pluginPath, pluginPath, orUnset(setting(plugin, "-buildmode")))
	}
	return ""
}

// runCapability prints the capability of the host in args[0], after
// checking the plugin in args[1] against it if there is one. The check's
// report goes to stderr, so that stdout holds the name alone.
func runCapability(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 || len(args) > 2 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if len(args) == 2 {
		if status := check(args[0], args[1], stderr, stderr); status != 0 {
			return status
		}
	}
	host, ok := readBinary(args[0], stderr)
	if !ok {
		return 2
	}
	if setting(host, "-buildmode") == "plugin" {
		fmt.Fprintf(stderr, "plugincheck: %s is a plugin, not a program: give Filebeat\n%s", args[0], usage)
		return 2
	}
	n := names{host: filepath.Base(args[0])}
	if found := hostSupport(host, n); len(found) > 0 {
		fmt.Fprintf(stderr, "plugincheck: %s cannot load plugins:\n", n.host)
		for _, f := range found {
			fmt.Fprintf(stderr, "  %s\n", f)
		}
		return 1
	}
	fmt.Fprintln(stdout, capability(host))
	return 0
}

// readBinary reads the Go build information of the file at path; a file
// without any is reported to stderr.
func readBinary(path string, stderr io.Writer) (*debug.BuildInfo, bool) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "plugincheck: %s: no Go build information: %v\n", path, err)
		return nil, false
	}
	return bi, true
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
