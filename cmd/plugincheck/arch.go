package main

import (
	"fmt"
	"runtime/debug"
)

// platform is the operating system and architecture a binary was built
// for, as Go records them: "linux/arm64"; "" if either is not recorded.
func platform(bi *debug.BuildInfo) string {
	goos, goarch := setting(bi, "GOOS"), setting(bi, "GOARCH")
	if goos == "" || goarch == "" {
		return ""
	}
	return goos + "/" + goarch
}

// archMismatch says, when host and plugin were built for two different
// platforms (linux/amd64 and linux/arm64), so in plain words with the fix;
// "" when they are for one, or either's is not recorded (mismatches then
// names the settings). The loader cannot even open a plugin for another
// processor, and every setting and module that follows from it would
// hide the cause.
func archMismatch(host, plugin *debug.BuildInfo, n names) string {
	hp, pp := platform(host), platform(plugin)
	if hp == "" || pp == "" || hp == pp {
		return ""
	}
	return fmt.Sprintf("incompatible: %s is built for %s, %s for %s:\n"+
		"  a plugin loads only into a program built for its own operating system and architecture, and these are two\n"+
		"Fix: use the %s built for %s: ./build.sh puts linux/amd64's in dist/, ARCH=arm64 ./build.sh linux/arm64's in dist/arm64/; "+
		"as packages, install the plugin package of the host's architecture (_amd64.deb and .x86_64.rpm, or _arm64.deb and .aarch64.rpm; docs/arm64.md).\n",
		n.plugin, pp, n.host, hp, n.plugin, hp)
}
