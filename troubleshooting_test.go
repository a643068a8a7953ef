package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// docs/troubleshooting.md quotes the messages an operator can meet, each in
// a heading of its own: ### `message`. A part that varies is written
// <like this>. Messages this project does not write end their heading
// with where they come from: (Filebeat), or (Go) for Go's libraries.

var (
	quotedHeading = regexp.MustCompile("^###+ `([^`]+)`(.*)$")
	placeholder   = regexp.MustCompile(`<[^<>]+>`)
	// goVerb is a formatting verb of a format string: what a placeholder
	// of the page stands for.
	goVerb = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)
)

type quotedMessage struct {
	line int
	text string
	from string // "", "Filebeat" or "Go"
}

func troubleshootingMessages(t *testing.T) []quotedMessage {
	t.Helper()
	raw, err := os.ReadFile("docs/troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []quotedMessage
	for i, l := range strings.Split(string(raw), "\n") {
		m := quotedHeading.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		q := quotedMessage{line: i + 1, text: m[1]}
		for _, from := range []string{"Filebeat", "Go"} {
			if strings.Contains(m[2], "("+from+")") {
				q.from = from
			}
		}
		msgs = append(msgs, q)
	}
	return msgs
}

// operatorFacing are the folders whose code writes what an operator of
// Filebeat reads: the plugin's (both lines), the host's additions and the
// compatibility check. Not the receiver, the benchmark or the tests' tools,
// whose words could keep a message the plugin no longer writes "found".
var operatorFacing = []string{"wsclient", "encode", "transport", "plugindir", "cmd/filebeat", "cmd/plugincheck", "beats95"}

// configPrefix starts every configuration error of the output, added to
// the key by one function (wsclient's asConfigError): a piece of a message
// is looked for without it.
const configPrefix = "output.websocket."

// pieces are the parts of a quoted message that must be written in the
// code: the text between its placeholders, cut where errors are wrapped
// (": "), since one message is often several wrapped errors.
func pieces(msg string) []string {
	var out []string
	for _, part := range placeholder.Split(msg, -1) {
		for _, p := range strings.Split(part, ": ") {
			if p = strings.TrimSpace(strings.TrimPrefix(p, configPrefix)); len(p) >= 4 {
				out = append(out, p)
			}
		}
	}
	return out
}

// stringLiterals returns the text of every string literal in the non-test
// Go files under the dirs (but a test server's, wstest), each format string's verbs cut out, so that a
// piece of a message is found in the literal it is written in.
func stringLiterals(t *testing.T, dirs ...string) []string {
	t.Helper()
	var lits []string
	fset := token.NewFileSet()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules" || d.Name() == "wstest") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil {
						s = strings.ReplaceAll(s, "%%", "\x00")
						for _, part := range goVerb.Split(s, -1) {
							lits = append(lits, strings.ReplaceAll(part, "\x00", "%"))
						}
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return lits
}

func inLiterals(piece string, lits []string) bool {
	for _, l := range lits {
		if strings.Contains(l, piece) {
			return true
		}
	}
	return false
}

// beatsSource is the folder of the Beats module this module builds with,
// and of go-ucfg, whose configuration errors Filebeat prints.
func beatsSource(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/elastic/beats/v7", "github.com/elastic/go-ucfg").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dirs := strings.Fields(string(out))
	if len(dirs) != 2 {
		t.Fatalf("go list found %q", dirs)
	}
	return []string{filepath.Join(dirs[0], "libbeat"), filepath.Join(dirs[0], "filebeat", "cmd"), dirs[1]}
}

// goSource is the folders of Go's standard library whose errors reach
// Filebeat's log through the output: the network's, the system's and the
// plugin loader's.
func goSource(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "src")
	return []string{filepath.Join(src, "net"), filepath.Join(src, "syscall"), filepath.Join(src, "plugin"), filepath.Join(src, "runtime", "plugin.go")}
}

func TestTroubleshooting_EveryQuotedMessageIsStillInTheCode(t *testing.T) {
	msgs := troubleshootingMessages(t)
	if len(msgs) < 40 {
		t.Fatalf("docs/troubleshooting.md quotes %d messages in ### `...` headings, want the page's 40 or more", len(msgs))
	}
	sources := map[string]func(*testing.T) []string{
		"Filebeat": beatsSource,
		"Go":       goSource,
	}
	literals := map[string][]string{"": stringLiterals(t, operatorFacing...)}
	if !inLiterals(configPrefix, literals[""]) {
		t.Errorf("the configuration errors' prefix %q is no longer in the code", configPrefix)
	}
	for _, m := range msgs {
		lits, ok := literals[m.from]
		if !ok {
			lits = stringLiterals(t, sources[m.from](t)...)
			literals[m.from] = lits
		}
		ps := pieces(m.text)
		if len(ps) == 0 {
			t.Errorf("docs/troubleshooting.md:%d: %q has nothing to look for", m.line, m.text)
		}
		for _, p := range ps {
			if !inLiterals(p, lits) {
				t.Errorf("docs/troubleshooting.md:%d: %q is no longer in the code (looked for %q)", m.line, m.text, p)
			}
		}
	}
}
