package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
)

// capabilityPrefix starts the name of the virtual package that a host
// package provides and that a plugin package requires (packaging/).
const capabilityPrefix = "filebeat-plugin-abi-"

// capability names, for the package managers, everything in a host that
// Go's plugin loader compares with a plugin, as mismatches compares it: the
// Go release, every build setting that can matter (all but the ignored
// ones) and every module the host contains, a plugin's only candidates
// for sharing, with version, replacement and checksum. A plugin that
// mismatches finds compatible with a host loads into every host with the
// same capability, so a plugin package requires the capability of the
// host it was checked against and a host package provides its own.
//
// The name is filebeat-plugin-abi-<Go release>-<16 hex digits of the
// SHA-256 of capabilityText>: a valid deb and rpm package name. It changes
// only when something that decides loading changes; changing what goes into
// it makes every plugin package built before it uninstallable beside hosts
// built after it, and the other way round.
func capability(host *debug.BuildInfo) string {
	sum := sha256.Sum256([]byte(capabilityText(host)))
	release, _, _ := strings.Cut(host.GoVersion, " ") // "go1.26.8 X:fieldtrack": the experiment is a setting
	return capabilityPrefix + release + "-" + hex.EncodeToString(sum[:8])
}

// capabilityText is what capability digests, one fact a line in a fixed
// order: the Go release, the settings by key, the modules by path.
func capabilityText(host *debug.BuildInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "go %s\n", host.GoVersion)
	settings := map[string]string{}
	for _, s := range host.Settings {
		if effect, known := settingEffects[s.Key]; !known || effect != ignored {
			settings[s.Key] = s.Value
		}
	}
	for _, key := range slices.Sorted(maps.Keys(settings)) {
		fmt.Fprintf(&b, "setting %s=%s\n", key, settings[key])
	}
	mods := modules(host)
	for _, path := range slices.Sorted(maps.Keys(mods)) {
		m := mods[path]
		fmt.Fprintf(&b, "module %s %s %s\n", path, moduleVersion(m), effective(m).Sum)
	}
	return b.String()
}
