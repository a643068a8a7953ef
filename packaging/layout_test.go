package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"go.yaml.in/yaml/v3"
)

// The host package follows Elastic's filebeat package: these tests keep
// its files equal to what Elastic's packaging makes from the same Beats
// release, but for the documented differences.

// beatsDir is the Beats source the module that builds Filebeat uses, in
// the module cache.
func beatsDir(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/elastic/beats/v7")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m github.com/elastic/beats/v7 in the module that builds Filebeat: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// elasticTemplate renders one of Beats' packaging templates as Elastic's
// packaging does for Filebeat (dev-tools/mage/settings.go, filebeat/magefile.go).
func elasticTemplate(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(beatsDir(t), "dev-tools/packaging/templates", name)
	tmpl, err := template.New(filepath.Base(path)).
		Funcs(template.FuncMap{"title": strings.Title}). //lint:ignore SA1019 Beats' templates use text/template's title, which is strings.Title
		ParseFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	err = tmpl.Execute(&b, map[string]string{
		"BeatName":    "filebeat",
		"BeatUser":    "root",
		"Description": "Filebeat sends log files to Logstash or directly to Elasticsearch.",
		"URL":         "https://www.elastic.co/beats/filebeat",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// replaceOnce replaces old, which must occur exactly once in s.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("%q occurs %d times in Elastic's file, want once:\n%s", old, n, s)
	}
	return strings.Replace(s, old, new, 1)
}

// gcSetting is what the unit adds to Elastic's environment: the garbage
// collector setting docs/performance.md recommends, commented out.
const gcSetting = `# Go's garbage collector: GOGC=200 takes a fifth to a quarter off Filebeat's
# CPU per event for about 16 MB more memory (the websocket output's
# docs/performance.md). Set it with a drop-in, which upgrades keep:
# systemctl edit filebeat, then [Service] and the line below, uncommented.
#Environment="GOGC=200"
`

// The host's filebeat loads the plugins in /usr/share/filebeat/plugins
// itself (package plugindir), so the unit and /usr/bin/filebeat start it as
// Elastic's do, without a --plugin.
func TestUnit_IsElasticsWithTheGCSettingCommentedOut(t *testing.T) {
	want := replaceOnce(t, elasticTemplate(t, "linux/systemd.unit.tmpl"),
		"Environment=\"GODEBUG='madvdontneed=1'\"\n", "Environment=\"GODEBUG='madvdontneed=1'\"\n"+gcSetting)
	if got := readFile(t, "files/filebeat.service"); got != want {
		t.Errorf("files/filebeat.service:\n%s\nwant Elastic's unit with the GC setting, commented out:\n%s", got, want)
	}
}

func TestWrapper_IsElastics(t *testing.T) {
	want := elasticTemplate(t, "linux/beatname.sh.tmpl")
	if got := readFile(t, "files/filebeat"); got != want {
		t.Errorf("files/filebeat:\n%s\nwant Elastic's /usr/bin/filebeat:\n%s", got, want)
	}
}

func TestPostinstall_IsElastics(t *testing.T) {
	want := readFile(t, filepath.Join(beatsDir(t), "dev-tools/packaging/files/linux/systemd-daemon-reload.sh"))
	if got := readFile(t, "files/systemd-daemon-reload.sh"); got != want {
		t.Errorf("files/systemd-daemon-reload.sh:\n%s\nwant Elastic's:\n%s", got, want)
	}
}

// outputs is the section of a packaged filebeat.yml where the outputs are:
// this one differs from Elastic's.
const (
	outputsStart = "# ================================== Outputs ==================================="
	outputsEnd   = "# ================================= Processors ================================="
)

// withoutOutputs returns s before and after its outputs section.
func withoutOutputs(t *testing.T, name, s string) (before, after string) {
	t.Helper()
	start, end := strings.Index(s, outputsStart), strings.Index(s, outputsEnd)
	if start < 0 || end < start {
		t.Fatalf("%s has no section from %q to %q", name, outputsStart, outputsEnd)
	}
	return s[:start], s[end:]
}

func TestConfig_IsElasticsWithTheWebSocketOutput(t *testing.T) {
	elastic := readFile(t, filepath.Join(beatsDir(t), "filebeat/filebeat.yml"))
	ours := readFile(t, "files/filebeat.yml")
	eBefore, eAfter := withoutOutputs(t, "Elastic's filebeat.yml", elastic)
	oBefore, oAfter := withoutOutputs(t, "files/filebeat.yml", ours)
	if oBefore != eBefore || oAfter != eAfter {
		t.Errorf("files/filebeat.yml differs from Elastic's outside its outputs section")
	}

	var config map[string]any
	if err := yaml.Unmarshal([]byte(ours), &config); err != nil {
		t.Fatalf("files/filebeat.yml: %v", err)
	}
	var outputs []string
	for key := range config {
		if strings.HasPrefix(key, "output.") {
			outputs = append(outputs, key)
		}
	}
	if len(outputs) != 1 || outputs[0] != "output.websocket" {
		t.Errorf("files/filebeat.yml configures the outputs %v, want output.websocket alone (Filebeat takes one)", outputs)
	}
	if _, ok := config["filebeat.config.modules"]; !ok {
		t.Errorf("files/filebeat.yml does not load modules.d as Elastic's does")
	}
}
