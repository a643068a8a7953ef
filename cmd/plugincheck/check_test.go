package main

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
)

// realBuilds returns the build information of this module's dist/filebeat
// and dist/websocket.so as ./build.sh made them (testdata/capture.go): a
// compatible pair, which each case changes in one respect.
func realBuilds(t *testing.T) (host, plugin *debug.BuildInfo) {
	t.Helper()
	return readBuildInfo(t, "filebeat.buildinfo"), readBuildInfo(t, "websocket.so.buildinfo")
}

func readBuildInfo(t *testing.T, name string) *debug.BuildInfo {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	bi, err := debug.ParseBuildInfo(string(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	// ParseBuildInfo leaves GoVersion to the caller, as buildinfo.ReadFile
	// reads it from elsewhere in a binary.
	first, _, _ := strings.Cut(string(b), "\n")
	bi.GoVersion, _ = strings.CutPrefix(first, "go\t")
	return bi
}

var fileNames = names{host: "filebeat", plugin: "websocket.so"}

func setSetting(bi *debug.BuildInfo, key, value string) {
	for i, s := range bi.Settings {
		if s.Key == key {
			if value == "" {
				bi.Settings = append(bi.Settings[:i], bi.Settings[i+1:]...)
			} else {
				bi.Settings[i].Value = value
			}
			return
		}
	}
	bi.Settings = append(bi.Settings, debug.BuildSetting{Key: key, Value: value})
}

// dep returns the binary's module path; the test fails if it has none.
func dep(t *testing.T, bi *debug.BuildInfo, path string) *debug.Module {
	t.Helper()
	for _, d := range bi.Deps {
		if d.Path == path {
			return d
		}
	}
	t.Fatalf("the build has no module %s", path)
	return nil
}

const gorilla = "github.com/gorilla/websocket"

func TestMismatches(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, host, plugin *debug.BuildInfo)
		want   []string
	}{
		{
			name:   "the builds of ./build.sh",
			change: func(*testing.T, *debug.BuildInfo, *debug.BuildInfo) {},
		},
		{
			name: "a module only the plugin contains",
			change: func(_ *testing.T, _, p *debug.BuildInfo) {
				p.Deps = append(p.Deps, &debug.Module{Path: "example.com/only/plugin", Version: "v1.0.0", Sum: "h1:x="})
			},
		},
		{
			name: "settings that do not change packages: -ldflags, CGO_CFLAGS, DefaultGODEBUG",
			change: func(_ *testing.T, _, p *debug.BuildInfo) {
				setSetting(p, "-ldflags", "-X github.com/beats-websocket/websocket-output/wsclient.Version=v2")
				setSetting(p, "CGO_CFLAGS", "-O1")
				setSetting(p, "DefaultGODEBUG", "tlsrsakex=1")
			},
		},
		{
			name:   "another Go release",
			change: func(_ *testing.T, _, p *debug.BuildInfo) { p.GoVersion = "go1.26.7" },
			want:   []string{"Go: filebeat was built with go1.26.8, websocket.so with go1.26.7"},
		},
		{
			name:   "plugin built without -trimpath",
			change: func(_ *testing.T, _, p *debug.BuildInfo) { setSetting(p, "-trimpath", "") },
			want:   []string{"build setting -trimpath: filebeat has true, websocket.so has (not set) (Go refuses the plugin)"},
		},
		{
			name:   "plugin built without the host's PGO profile",
			change: func(_ *testing.T, _, p *debug.BuildInfo) { setSetting(p, "-pgo", "") },
			want:   []string{"build setting -pgo: filebeat has filebeat-df0d2057efdc.pprof, websocket.so has (not set) (Go refuses the plugin)"},
		},
		{
			name:   "plugin built with -race",
			change: func(_ *testing.T, _, p *debug.BuildInfo) { setSetting(p, "-race", "true") },
			want:   []string{"build setting -race: filebeat has (not set), websocket.so has true (Go refuses the plugin)"},
		},
		{
			name:   "build tags",
			change: func(_ *testing.T, h, _ *debug.BuildInfo) { setSetting(h, "-tags", "netgo") },
			want:   []string{"build setting -tags: filebeat has netgo, websocket.so has (not set) (Go refuses the plugin if this changes a package both contain)"},
		},
		{
			name:   "another GOAMD64 level",
			change: func(_ *testing.T, _, p *debug.BuildInfo) { setSetting(p, "GOAMD64", "v3") },
			want:   []string{"build setting GOAMD64: filebeat has v1, websocket.so has v3 (Go loads it, but it may use instructions the CPUs filebeat was built for lack)"},
		},
		{
			name:   "a setting this check does not know",
			change: func(_ *testing.T, h, _ *debug.BuildInfo) { setSetting(h, "-newflag", "on") },
			want:   []string{"build setting -newflag: filebeat has on, websocket.so has (not set) (not known to matter; build both with the same settings to be sure)"},
		},
		{
			name:   "another version of a shared module",
			change: func(t *testing.T, _, p *debug.BuildInfo) { dep(t, p, gorilla).Version = "v1.5.1" },
			want:   []string{"module github.com/gorilla/websocket: filebeat has v1.5.3, websocket.so has v1.5.1"},
		},
		{
			name:   "the same version of a shared module with other content",
			change: func(t *testing.T, _, p *debug.BuildInfo) { dep(t, p, gorilla).Sum = "h1:other=" },
			want: []string{"module github.com/gorilla/websocket v1.5.3: checksums differ, " +
				"filebeat has h1:saDtZ6Pbx/0u+bgYQ3q96pZgCzfhKXGPqt7kZ72aNNg=, websocket.so has h1:other="},
		},
		{
			name: "a shared module replaced in the plugin",
			change: func(t *testing.T, _, p *debug.BuildInfo) {
				dep(t, p, gorilla).Replace = &debug.Module{Path: "github.com/fork/websocket", Version: "v1.5.3", Sum: "h1:fork="}
			},
			want: []string{"module github.com/gorilla/websocket: filebeat has v1.5.3, websocket.so has v1.5.3 => github.com/fork/websocket v1.5.3"},
		},
		{
			name: "the same directory replacement in both: no checksums to compare",
			change: func(t *testing.T, h, p *debug.BuildInfo) {
				dep(t, h, gorilla).Replace = &debug.Module{Path: "../websocket"}
				dep(t, p, gorilla).Replace = &debug.Module{Path: "../websocket"}
			},
		},
		{
			name: "Filebeat built from the Beats source tree",
			change: func(t *testing.T, h, _ *debug.BuildInfo) {
				beats := dep(t, h, "github.com/elastic/beats/v7")
				h.Main = debug.Module{Path: beats.Path, Version: "(devel)"}
				beats.Path = "example.com/removed"
			},
			want: []string{"module github.com/elastic/beats/v7: filebeat has (devel), websocket.so has v7.17.29"},
		},
		{
			name: "every mismatch, in order: Go, settings, modules",
			change: func(t *testing.T, h, p *debug.BuildInfo) {
				dep(t, p, "go.uber.org/zap").Version = "v1.27.0"
				dep(t, p, gorilla).Version = "v1.5.1"
				setSetting(h, "GOEXPERIMENT", "fieldtrack")
				setSetting(p, "-trimpath", "")
				h.GoVersion = "go1.27.0"
			},
			want: []string{
				"Go: filebeat was built with go1.27.0, websocket.so with go1.26.8",
				"build setting -trimpath: filebeat has true, websocket.so has (not set) (Go refuses the plugin)",
				"build setting GOEXPERIMENT: filebeat has fieldtrack, websocket.so has (not set) (Go refuses the plugin)",
				"module github.com/gorilla/websocket: filebeat has v1.5.3, websocket.so has v1.5.1",
				"module go.uber.org/zap: filebeat has v1.21.0, websocket.so has v1.27.0",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, plugin := realBuilds(t)
			tt.change(t, host, plugin)
			if got := mismatches(host, plugin, fileNames); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("mismatches:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestPluginSupport(t *testing.T) {
	tests := []struct {
		name   string
		change func(host, plugin *debug.BuildInfo)
		want   []string
	}{
		{
			name:   "the builds of ./build.sh",
			change: func(*debug.BuildInfo, *debug.BuildInfo) {},
		},
		{
			name:   "Filebeat built without cgo",
			change: func(h, _ *debug.BuildInfo) { setSetting(h, "CGO_ENABLED", "0") },
			want: []string{`filebeat was built with CGO_ENABLED=0: Filebeat has a --plugin flag only when built with cgo, ` +
				`so it stops with "unknown flag: --plugin"; rebuild it with CGO_ENABLED=1 (./build.sh does)`},
		},
		{
			name:   "Filebeat built for Windows",
			change: func(h, _ *debug.BuildInfo) { setSetting(h, "GOOS", "windows") },
			want:   []string{"filebeat was built for windows: Filebeat loads plugins only on linux and darwin"},
		},
		{
			name:   "a program where the plugin should be",
			change: func(_, p *debug.BuildInfo) { setSetting(p, "-buildmode", "exe") },
			want:   []string{"websocket.so is not a Go plugin: it was built with -buildmode=exe; build it with ./build.sh plugin"},
		},
		{
			name:   "two plugins",
			change: func(h, _ *debug.BuildInfo) { setSetting(h, "-buildmode", "plugin") },
			want:   []string{"filebeat is a plugin (-buildmode=plugin), not a program: give Filebeat first"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, plugin := realBuilds(t)
			tt.change(host, plugin)
			if got := pluginSupport(host, plugin, fileNames); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("pluginSupport:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
