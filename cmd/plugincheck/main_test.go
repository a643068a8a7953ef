package main

import (
	"bytes"
	"os"
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
		{"a program given as the plugin", []string{self, self}, 1, "is not a Go plugin: it was built with -buildmode=exe"},
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
		{"a program given as the plugin", []string{"-capability", self, self}, 1, "is not a Go plugin: it was built with -buildmode=exe"},
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
