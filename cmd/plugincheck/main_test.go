package main

import (
	"bytes"
	"os"
	"runtime/debug"
	"strings"
	"testing"
)

func TestRun_ExitStatusAndMessages(t *testing.T) {
	self, err := os.Executable() // a Go program, not a plugin
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantOut    string // in stdout, or stderr for status 2
	}{
		{"no arguments", nil, 2, "usage: plugincheck FILEBEAT PLUGIN"},
		{"a missing file", []string{"testdata/missing", self}, 2, "testdata/missing: no Go build information"},
		{"a file that is no Go binary", []string{self, "testdata/capture.go"}, 2, "testdata/capture.go: no Go build information"},
		{"a program given as the plugin", []string{self, self}, 2, "are both programs (" + self + " was built with -buildmode=exe): give Filebeat first, then the plugin"},
		{"an unknown flag", []string{"-capabilities", self}, 2, "plugincheck: unknown flag -capabilities\nusage: plugincheck FILEBEAT PLUGIN"},
		{"-h", []string{"-h"}, 0, "usage: plugincheck FILEBEAT PLUGIN"},
		{"-help", []string{"-help"}, 0, "usage: plugincheck FILEBEAT PLUGIN"},
		{"--help after the files", []string{self, self, "--help"}, 0, "usage: plugincheck FILEBEAT PLUGIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := run(tt.args, &stdout, &stderr)
			out := stdout.String()
			if tt.wantStatus == 2 {
				out = stderr.String()
			}
			if status != tt.wantStatus || !strings.Contains(out, tt.wantOut) {
				t.Errorf("status %d, stdout:\n%s\nstderr:\n%s\nwant status %d and %q", status, &stdout, &stderr, tt.wantStatus, tt.wantOut)
			}
		})
	}
}

func TestRun_Capability(t *testing.T) {
	self, err := os.Executable() // a Go program, not a plugin
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantStderr string
	}{
		{"no host", []string{"-capability"}, 2, "usage: plugincheck FILEBEAT PLUGIN"},
		{"three files", []string{"-capability", self, self, self}, 2, "usage: plugincheck FILEBEAT PLUGIN"},
		{"a file that is no Go binary", []string{"-capability", "testdata/capture.go"}, 2, "testdata/capture.go: no Go build information"},
		{"a program given as the plugin", []string{"-capability", self, self}, 2, "are both programs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := run(tt.args, &stdout, &stderr)
			if status != tt.wantStatus || stdout.Len() > 0 || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("status %d, stdout:\n%s\nstderr:\n%s\nwant status %d, no stdout and %q", status, &stdout, &stderr, tt.wantStatus, tt.wantStderr)
			}
		})
	}
}

// A plugin given first, two plugins or two programs are usage errors (exit
// status 2), not an incompatible pair; dist's real binaries are in e2e.
func TestWrongRoles(t *testing.T) {
	host, plugin := realBuilds(t)
	tests := []struct {
		name         string
		first, other *debug.BuildInfo
		paths        [2]string
		want         string
	}{
		{"a program, then a plugin", host, plugin, [2]string{"filebeat", "websocket.so"}, ""},
		{"the plugin first", plugin, host, [2]string{"websocket.so", "filebeat"}, "websocket.so is a plugin and filebeat a program: give the program first"},
		{"two plugins", plugin, plugin, [2]string{"a.so", "b.so"}, "a.so and b.so are both plugins: give Filebeat first, then the plugin"},
		{"two programs", host, host, [2]string{"filebeat", "auditbeat"}, "filebeat and auditbeat are both programs (auditbeat was built with -buildmode=exe): give Filebeat first, then the plugin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wrongRoles(tt.first, tt.other, tt.paths[0], tt.paths[1]); got != tt.want {
				t.Errorf("wrongRoles: %q, want %q", got, tt.want)
			}
		})
	}
}
