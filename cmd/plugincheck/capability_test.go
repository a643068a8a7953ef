package main

import (
	"runtime/debug"
	"testing"
)

// The capability of testdata's Filebeat. It must not change unless what
// decides loading does: a plugin package built before such a change does
// not install beside a host package built after it.
const realCapability = "filebeat-plugin-abi-go1.26.8-69e88500621b136f"

func TestCapability_OfTheBuildOfBuildSh(t *testing.T) {
	host, _ := realBuilds(t)
	if got := capability(host); got != realCapability {
		t.Errorf("capability = %s, want %s; its text:\n%s", got, realCapability, capabilityText(host))
	}
}

func TestCapability_ChangesWithWhatTheLoaderCompares(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, host *debug.BuildInfo)
	}{
		{"another Go release", func(_ *testing.T, h *debug.BuildInfo) { h.GoVersion = "go1.26.7" }},
		{"a Go experiment", func(_ *testing.T, h *debug.BuildInfo) { setSetting(h, "GOEXPERIMENT", "fieldtrack") }},
		{"without -trimpath", func(_ *testing.T, h *debug.BuildInfo) { setSetting(h, "-trimpath", "") }},
		{"with -race", func(_ *testing.T, h *debug.BuildInfo) { setSetting(h, "-race", "true") }},
		{"build tags", func(_ *testing.T, h *debug.BuildInfo) { setSetting(h, "-tags", "netgo") }},
		{"-gcflags", func(_ *testing.T, h *debug.BuildInfo) { setSetting(h, "-gcflags", "-l") }},
		{"another PGO profile", func(_ *testing.T, h *debug.BuildInfo) { setSetting(h, "-pgo", "filebeat-0123456789ab.pprof") }},
		{"without PGO", func(_ *testing.T, h *debug.BuildInfo) { setSetting(h, "-pgo", "") }},
		{"another GOAMD64 level", func(_ *testing.T, h *debug.BuildInfo) { setSetting(h, "GOAMD64", "v3") }},
		{"a setting this check does not know", func(_ *testing.T, h *debug.BuildInfo) { setSetting(h, "-newflag", "on") }},
		{"another version of a module", func(t *testing.T, h *debug.BuildInfo) { dep(t, h, gorilla).Version = "v1.5.1" }},
		{"a module's other content", func(t *testing.T, h *debug.BuildInfo) { dep(t, h, gorilla).Sum = "h1:other=" }},
		{"a module replaced", func(t *testing.T, h *debug.BuildInfo) {
			dep(t, h, gorilla).Replace = &debug.Module{Path: "github.com/fork/websocket", Version: "v1.5.3", Sum: "h1:fork="}
		}},
		{"one more module", func(_ *testing.T, h *debug.BuildInfo) {
			h.Deps = append(h.Deps, &debug.Module{Path: "github.com/jpillora/backoff", Version: "v1.0.0", Sum: "h1:x="})
		}},
		{"one module less", func(_ *testing.T, h *debug.BuildInfo) { h.Deps = h.Deps[1:] }},
		{"another main module", func(_ *testing.T, h *debug.BuildInfo) { h.Main.Path = "example.com/fork" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, _ := realBuilds(t)
			tt.change(t, host)
			if got := capability(host); got == realCapability {
				t.Errorf("the capability did not change; its text:\n%s", capabilityText(host))
			}
		})
	}
}

func TestCapability_IgnoresWhatTheLoaderDoesNotCompare(t *testing.T) {
	host, _ := realBuilds(t)
	setSetting(host, "-ldflags", "-X main.version=2")
	setSetting(host, "CGO_CFLAGS", "-O1")
	setSetting(host, "CGO_LDFLAGS", "-lm")
	setSetting(host, "DefaultGODEBUG", "tlsrsakex=1")
	setSetting(host, "vcs.revision", "1a2b3c4")
	setSetting(host, "vcs.modified", "true")
	host.Path = "example.com/other/cmd/filebeat"
	host.Deps[0], host.Deps[1] = host.Deps[1], host.Deps[0]
	if got := capability(host); got != realCapability {
		t.Errorf("capability = %s, want %s unchanged; its text:\n%s", got, realCapability, capabilityText(host))
	}
}
