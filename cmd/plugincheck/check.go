package main

import (
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
)

// effect is what a difference in one build setting between host and plugin
// does when the host loads the plugin.
type effect int

const (
	ignored     effect = iota // no effect on loading: not reported
	refuses                   // Go's plugin loader refuses the plugin
	mayRefuse                 // refuses when it changes a package both binaries contain
	loadsButCPU               // loads; the plugin's code may need a newer CPU than the host's
)

// settingEffects is, for each build setting Go records, what a difference
// between host and plugin does. The loader compares a hash of the export
// data of every package the two binaries share ("plugin was built with a
// different version of package X"), so what changes export data or the
// runtime refuses the plugin, and what changes only generated code or
// linking does not. The entries marked "checked" were tried with go1.26.8:
// a host and a plugin that differ in that setting alone. A setting not in
// the table is reported as a difference.
var settingEffects = map[string]effect{
	"-trimpath":    refuses, // checked: file names are in every package's export data
	"-race":        refuses, // checked: another runtime
	"-msan":        refuses, // another runtime, as -race
	"-asan":        refuses,
	"-compiler":    refuses,
	"GOEXPERIMENT": refuses, // checked: internal/goexperiment differs
	"GOFIPS140":    refuses, // another snapshot of crypto/internal/fips140
	"GOOS":         refuses,
	"GOARCH":       refuses,
	"-tags":        mayRefuse, // checked: netgo changes net, which Filebeat uses; an unused tag does nothing
	"-gcflags":     mayRefuse, // checked: -l changes export data (inline bodies), -N does not
	"-asmflags":    mayRefuse,
	"-cover":       mayRefuse,
	"-pgo":         refuses,     // checked: a host built with the benchmark's profile refused a plugin built without one ("a different version of package internal/abi"); Go records only the profile's file name, which build.sh makes its SHA-256
	"GOAMD64":      loadsButCPU, // checked: v3 plugin, v1 host
	"GO386":        loadsButCPU,
	"GOARM":        loadsButCPU,
	"GOARM64":      loadsButCPU,
	"GOMIPS":       loadsButCPU,
	"GOMIPS64":     loadsButCPU,
	"GOPPC64":      loadsButCPU,
	"GORISCV64":    loadsButCPU,

	"-buildmode":     ignored, // exe and plugin, by design
	"-ldflags":       ignored, // checked: link time only (-X on a shared package silently keeps the host's value); not recorded with -trimpath
	"CGO_CFLAGS":     ignored, // checked: the C side of cgo packages; not recorded with -trimpath
	"CGO_CPPFLAGS":   ignored,
	"CGO_CXXFLAGS":   ignored,
	"CGO_LDFLAGS":    ignored,
	"CGO_ENABLED":    ignored, // the host's is checked on its own (pluginSupport); a plugin always has cgo
	"DefaultGODEBUG": ignored, // the host's applies to the whole process
	"vcs":            ignored,
	"vcs.revision":   ignored,
	"vcs.time":       ignored,
	"vcs.modified":   ignored,
}

// pluginOSes are where Filebeat 7.17 has a --plugin flag (libbeat/plugin's
// build constraints).
var pluginOSes = map[string]bool{"linux": true, "darwin": true}

// names are what the findings call the two binaries, usually "filebeat"
// and "websocket.so".
type names struct{ host, plugin string }

// pluginSupport says why the host cannot load any plugin, or why the
// plugin is none, one line each with the fix. None means both are what they
// should be.
func pluginSupport(host, plugin *debug.BuildInfo, n names) []string {
	found := hostSupport(host, n)
	if mode := setting(plugin, "-buildmode"); mode != "plugin" {
		found = append(found, fmt.Sprintf("%s is not a Go plugin: it was built with -buildmode=%s; build it with ./build.sh plugin", n.plugin, orUnset(mode)))
	}
	return found
}

// hostSupport says why the host cannot load any plugin, with the fix; none
// means it can.
func hostSupport(host *debug.BuildInfo, n names) []string {
	switch {
	case setting(host, "-buildmode") == "plugin":
		return []string{fmt.Sprintf("%s is a plugin (-buildmode=plugin), not a program: give Filebeat first", n.host)}
	case setting(host, "CGO_ENABLED") != "1":
		return []string{fmt.Sprintf("%s was built with CGO_ENABLED=%s: Filebeat has a --plugin flag only when built with cgo, so it stops with \"unknown flag: --plugin\"; rebuild it with CGO_ENABLED=1 (./build.sh does)", n.host, orUnset(setting(host, "CGO_ENABLED")))}
	case !pluginOSes[setting(host, "GOOS")]:
		return []string{fmt.Sprintf("%s was built for %s: Filebeat loads plugins only on linux and darwin", n.host, setting(host, "GOOS"))}
	}
	return nil
}

// mismatches compares the build information of a host program and of a
// plugin meant to be loaded into it, and returns, one line each, every
// difference that makes Go's plugin loader refuse the plugin or may: the Go
// release, the build settings, then the modules by path. None means the
// plugin loads as far as build information can tell.
func mismatches(host, plugin *debug.BuildInfo, n names) []string {
	var found []string
	if host.GoVersion != plugin.GoVersion {
		found = append(found, fmt.Sprintf("Go: %s was built with %s, %s with %s",
			n.host, host.GoVersion, n.plugin, plugin.GoVersion))
	}
	found = append(found, settingDifferences(host, plugin, n)...)
	return append(found, moduleDifferences(host, plugin, n)...)
}

func settingDifferences(host, plugin *debug.BuildInfo, n names) []string {
	keys := map[string]bool{}
	for _, s := range host.Settings {
		keys[s.Key] = true
	}
	for _, s := range plugin.Settings {
		keys[s.Key] = true
	}
	var found []string
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		h, p := setting(host, key), setting(plugin, key)
		effect, known := settingEffects[key]
		if h == p || (known && effect == ignored) {
			continue
		}
		line := fmt.Sprintf("build setting %s: %s has %s, %s has %s", key, n.host, orUnset(h), n.plugin, orUnset(p))
		switch {
		case !known:
			line += " (not known to matter; build both with the same settings to be sure)"
		case effect == refuses:
			line += " (Go refuses the plugin)"
		case effect == mayRefuse:
			line += " (Go refuses the plugin if this changes a package both contain)"
		case effect == loadsButCPU:
			line += fmt.Sprintf(" (Go loads it, but it may use instructions the CPUs %s was built for lack)", n.host)
		}
		found = append(found, line)
	}
	return found
}

// moduleDifferences compares every module both binaries contain, the main
// modules included: a plugin depending on Beats cannot load into a
// Filebeat built from the Beats source tree either. Modules only one binary
// contains do not matter.
func moduleDifferences(host, plugin *debug.BuildInfo, n names) []string {
	hm, pm := modules(host), modules(plugin)
	var found []string
	for _, path := range sortedShared(hm, pm) {
		h, p := hm[path], pm[path]
		hv, pv := moduleVersion(h), moduleVersion(p)
		if hv != pv {
			found = append(found, fmt.Sprintf("module %s: %s has %s, %s has %s", path, n.host, hv, n.plugin, pv))
			continue
		}
		// The same version with other content: another proxy, a
		// vendored copy edited, a republished tag. An empty sum (a
		// directory replacement, vendoring) proves nothing either way.
		hs, ps := effective(h).Sum, effective(p).Sum
		if hs != "" && ps != "" && hs != ps {
			found = append(found, fmt.Sprintf("module %s %s: checksums differ, %s has %s, %s has %s", path, hv, n.host, hs, n.plugin, ps))
		}
	}
	return found
}

// modules indexes a binary's modules by path, its main module included.
func modules(bi *debug.BuildInfo) map[string]*debug.Module {
	m := make(map[string]*debug.Module, len(bi.Deps)+1)
	if bi.Main.Path != "" {
		m[bi.Main.Path] = &bi.Main
	}
	for _, d := range bi.Deps {
		m[d.Path] = d
	}
	return m
}

// moduleVersion is a module's version as go.mod would say it, with its
// replacement: "v1.5.3", "v0.0.0-… => github.com/elastic/sarama v1.19.1-…",
// "(devel)" for a main module.
func moduleVersion(m *debug.Module) string {
	v := m.Version
	if m.Replace != nil {
		v = strings.TrimSpace(v + " => " + strings.TrimSpace(m.Replace.Path+" "+m.Replace.Version))
	}
	return v
}

// effective is the module whose content was built: the replacement, if any.
func effective(m *debug.Module) *debug.Module {
	if m.Replace != nil {
		return m.Replace
	}
	return m
}

func setting(bi *debug.BuildInfo, key string) string {
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

func orUnset(v string) string {
	if v == "" {
		return "(not set)"
	}
	return v
}

// sortedShared returns the paths in both a and b, sorted.
func sortedShared(a, b map[string]*debug.Module) []string {
	var shared []string
	for path := range a {
		if b[path] != nil {
			shared = append(shared, path)
		}
	}
	slices.Sort(shared)
	return shared
}
