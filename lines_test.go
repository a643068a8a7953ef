package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The 9.5 line (beats95/, a module of its own) compiles this module's
// adapter source through links: each file of beats95/wsclient,
// beats95/encode and beats95/plugindir is a link to the file of the same name here, but for the
// line's own files (line.go, line_test.go). These tests keep the links
// honest, so that neither line drifts from the other (docs/lines.md).

// isLineFile says whether a file is a line's own, in every linked folder:
// line.go, line_test.go, and line_*.go for more of the same.
func isLineFile(name string) bool {
	return name == "line.go" || name == "line_test.go" || strings.HasPrefix(name, "line_")
}

// onlyHere are the files of the root module that the 9.5 line does not
// compile, and why.
var onlyHere = map[string]string{
	"wsclient/bench_test.go": "the benchmarks measure the shared code once, on the 7.17 line",
	"wsclient/docs_test.go":  "it checks README.md and filebeat.yml.example against the shared config struct: once is enough",
}

func TestLines_EveryFileOfThe95LineIsALinkToTheSharedSourceOrItsOwn(t *testing.T) {
	for _, dir := range []string{"wsclient", "encode", "plugindir"} {
		entries, err := os.ReadDir(filepath.Join("beats95", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			path := filepath.Join("beats95", dir, name)
			if isLineFile(name) {
				if e.Type()&os.ModeSymlink != 0 {
					t.Errorf("%s is the line's own file, but a link", path)
				}
				continue
			}
			target, err := os.Readlink(path)
			if err != nil {
				t.Errorf("%s is neither a link to ../../%s/%s nor a line file (%v): shared code has one copy", path, dir, name, err)
				continue
			}
			if want := filepath.Join("..", "..", dir, name); target != want {
				t.Errorf("%s links to %s, want %s", path, target, want)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s: broken link: %v", path, err)
			}
		}
	}
	if target, err := os.Readlink(filepath.Join("beats95", "plugin.go")); err != nil || target != "../plugin.go" {
		t.Errorf("beats95/plugin.go must be a link to ../plugin.go: %q, %v", target, err)
	}
}

func TestLines_EverySharedFileIsLinkedInto95(t *testing.T) {
	var missing []string
	for _, dir := range []string{"wsclient", "encode", "plugindir"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			rel := dir + "/" + name
			if isLineFile(name) || onlyHere[rel] != "" || (!strings.HasSuffix(name, ".go") && name != "testdata") {
				continue
			}
			if _, err := os.Lstat(filepath.Join("beats95", dir, name)); err != nil {
				missing = append(missing, rel)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("not linked into beats95/ (ln -s ../../DIR/FILE beats95/DIR/FILE), nor listed in onlyHere with a reason: %s", strings.Join(missing, ", "))
	}
}

func TestLines_The95ModuleNeverRequiresThe717Beats(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join("beats95", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "github.com/elastic/beats/v7" && f[1] != "v7.0.0-alpha2.0.20260423212405-1630b57ceb2e" {
			t.Errorf("beats95/go.mod requires Beats %s: a graph with 7.17 picks v7.17.x over the 9.5 pseudo-version", f[1])
		}
	}
	// One Go release for both lines: build.sh checks go against the root's.
	root, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := ""
	for _, l := range strings.Split(string(root), "\n") {
		if strings.HasPrefix(l, "go ") || strings.HasPrefix(l, "toolchain ") {
			goLine += l + "\n"
		}
	}
	for _, want := range []string{"replace github.com/beats-websocket/websocket-output/transport => ../transport", goLine} {
		if !strings.Contains(string(mod), want) {
			t.Errorf("beats95/go.mod lacks %q", want)
		}
	}
}
