package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// beatsModule is the module both Filebeat and the plugin are built from.
const beatsModule = "github.com/elastic/beats/v7"

// beatsLines names the Beats versions this project builds that are no
// release: Beats' main of 2026-04-23 reports itself as 9.5.0.
var beatsLines = map[string]string{
	"v7.0.0-alpha2.0.20260423212405-1630b57ceb2e": "9.5",
}

// beatsLine is the line (7.17, 9.5) of a binary built with Beats, and the
// Beats version; "" when it has no Beats module or one of no known line.
func beatsLine(bi *debug.BuildInfo) (line, version string) {
	m := modules(bi)[beatsModule]
	if m == nil {
		return "", ""
	}
	version = m.Version
	if line, ok := beatsLines[version]; ok {
		return line, version
	}
	if rest, ok := strings.CutPrefix(version, "v7.17."); ok && rest != "" {
		return "7.17", version
	}
	return "", version
}

// lineMismatch says, when host and plugin were built for two different
// Beats lines, so in plain words with the fix; "" when they are of one
// line, or either's line is unknown (mismatches then names each module).
// Every module the two share differs then, a list that would hide the
// cause.
func lineMismatch(host, plugin *debug.BuildInfo, n names) string {
	hl, hv := beatsLine(host)
	pl, pv := beatsLine(plugin)
	if hl == "" || pl == "" || hl == pl {
		return ""
	}
	return fmt.Sprintf("incompatible: %s is a plugin for Filebeat %s (Beats %s), %s is Filebeat %s (Beats %s):\n"+
		"  a plugin loads only into a Filebeat of its own line, and these are two lines\n"+
		"Fix: use the %s built for Filebeat %s: ./build.sh puts the 7.17 line's in dist/, BEATS=9.5 ./build.sh the 9.5 line's in dist/9.5/; "+
		"as packages, filebeat-output-websocket goes with filebeat-ws (7.17) and filebeat-output-websocket-9.5 with filebeat-ws-9.5 (docs/lines.md).\n",
		n.plugin, pl, pv, n.host, hl, hv, n.plugin, hl)
}
