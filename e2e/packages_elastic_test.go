package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"
	"time"
)

// testReplaceElastic replaces Elastic's filebeat package, whose Filebeat
// has shipped part of a log (so its registry holds progress), with this
// project's packages, as docs/install.md tells an operator to, and checks
// that the new Filebeat sends exactly the rest: nothing again, nothing
// lost.
func testReplaceElastic(t *testing.T, set packageSet) {
	t.Cleanup(func() { purgeFilebeat(t) })
	dir := t.TempDir()
	elastic := elasticStandIn(t, filepath.Join(dir, "elastic"), set.dist)
	log, fileOut, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "file-output"), filepath.Join(dir, "received.log")
	fileOutput := fmt.Sprintf("output.file:\n  path: %q\n  filename: shipped\n", fileOut)

	if !t.Run("Elastic's package, run as its unit does, ships the first 1000 lines to a file", func(t *testing.T) {
		mustDpkg(t, "-i", elastic)
		if got := installedVersion(t, "filebeat"); got != "7.17.29" {
			t.Fatalf("filebeat %s is installed, want 7.17.29", got)
		}
		editFile(t, installedCfg,
			"\n  enabled: false\n", "\n  enabled: true\n",
			"    - /var/log/*.log\n", "    - "+log+"\n",
			"output.elasticsearch:\n  # Array of hosts to connect to.\n  hosts: [\"localhost:9200\"]\n", fileOutput)
		writeLog(t, log, 0, 1000)
		fb := startUnit(t, unitFile, filepath.Join(dir, "filebeat-elastic.log"))
		waitFor(t, 2*time.Minute, "1000 lines in the file output", func() bool {
			if !fb.running() {
				t.Fatalf("Elastic's Filebeat exited (%v):\n%s", fb.err, fb.tail())
			}
			return len(fileOutputLines(t, fileOut)) >= 1000
		})
		fb.stop(t)
		if _, err := os.Stat("/var/lib/filebeat/registry/filebeat/log.json"); err != nil {
			t.Fatalf("Elastic's Filebeat left no registry: %v", err)
		}
	}) {
		return
	}

	if !t.Run("dpkg -i --force-confold replaces it with filebeat-ws, keeping the configuration and the registry; dpkg --purge filebeat forgets it", func(t *testing.T) {
		got := mustDpkg(t, "-i", "--force-confold", set.hostDeb)
		if want := "will remove filebeat in favour of filebeat-ws"; !strings.Contains(got, want) {
			t.Errorf("dpkg -i did not say %q:\n%s", want, got)
		}
		t.Logf("dpkg -i --force-confold %s:\n%s", filepath.Base(set.hostDeb), got)
		mustDpkg(t, "-i", set.pluginDeb)
		// dpkg keeps a record of the removed package, its configuration
		// files now filebeat-ws's ("obsolete" for it); purging it forgets
		// the package and leaves the files with filebeat-ws.
		if status := packageStatus(t, "filebeat"); !strings.HasSuffix(status, " config-files") {
			t.Errorf("dpkg's status of Elastic's filebeat: %q, want its configuration files only", status)
		}
		config := readFile(t, installedCfg)
		mustDpkg(t, "--purge", "filebeat")
		if status := packageStatus(t, "filebeat"); status != "" {
			t.Errorf("Elastic's filebeat is still known to dpkg after dpkg --purge filebeat: %s", status)
		}
		if readFile(t, installedCfg) != config || len(treeFiles(t, "/etc/filebeat/modules.d")) != len(treeFiles(t, filepath.Join(set.dist, "modules.d"))) {
			t.Errorf("dpkg --purge filebeat changed the configuration files filebeat-ws took over")
		}
		if config := readFile(t, installedCfg); !strings.Contains(config, fileOutput) {
			t.Errorf("the operator's %s was not kept:\n%s", installedCfg, config)
		}
		if dist := readFile(t, installedCfg+".dpkg-dist"); !strings.Contains(dist, "\noutput.websocket:\n") {
			t.Errorf("%s.dpkg-dist, the package's configuration beside the kept one, has no output.websocket:\n%s", installedCfg, dist)
		}
		if _, err := os.Stat("/var/lib/filebeat/registry/filebeat/log.json"); err != nil {
			t.Errorf("the registry is gone: %v", err)
		}
	}) {
		return
	}

	t.Run("with output.websocket, the new Filebeat sends the lines Elastic's had not, and none it had", func(t *testing.T) {
		recv := startReceiver(t, dir, "127.0.0.1:0", out)
		editFile(t, installedCfg, fileOutput, fmt.Sprintf("output.websocket:\n  hosts: [\"ws://%s/echo\"]\n", recv.addr))
		writeLog(t, log, 1000, 2000)
		fb := startUnit(t, unitFile, filepath.Join(dir, "filebeat-ws.log"))
		waitForEvents(t, fb, recv, 1000)
		fb.stop(t)
		recv.stop(t)
		assertStartedWith(t, fb.output(), strings.TrimSpace(readFile(t, filepath.Join(set.dist, "websocket.so.version"))))
		assertLines(t, fileOutputLines(t, fileOut), 0, 1000)
		assertLines(t, received(t, out), 1000, 2000)
	})

	t.Run("dpkg --purge removes everything", func(t *testing.T) {
		purgeFilebeat(t)
	})
}

// fileOutputLines returns the messages Filebeat's file output wrote into
// dir, in order.
func fileOutputLines(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "shipped"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var event struct{ Message string }
		if err := json.Unmarshal(sc.Bytes(), &event); err != nil {
			t.Fatalf("the file output wrote a line that is no event: %q (%v)", sc.Text(), err)
		}
		msgs = append(msgs, event.Message)
	}
	return msgs
}

// elasticStandIn makes, in dir, a deb laid out as Elastic's filebeat
// 7.17.29 package: its name, version and configuration files, and its
// files rendered from Beats' own packaging (dev-tools/packaging:
// packages.yml's deb_rpm_spec, the unit and /usr/bin/filebeat templates)
// and its packaged filebeat.yml and modules. Elastic's download cannot be
// fetched here (no network), so the binary is this module's build of the
// same Filebeat 7.17.29 (without plugins, as Elastic's unit runs it); the
// registry it writes is Filebeat 7.17.29's either way.
func elasticStandIn(t *testing.T, dir, distDir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	beats := moduleDir(t, "github.com/elastic/beats/v7")
	render := func(template, to string) string {
		path := filepath.Join(dir, to)
		if err := os.WriteFile(path, []byte(renderBeatsTemplate(t, beats, template)), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	config := fmt.Sprintf(`name: filebeat
arch: amd64
version: 7.17.29
version_schema: none
vendor: Elastic
maintainer: "Elastic (stand-in made by the package tests)"
license: ASL 2.0
description: Filebeat sends log files to Logstash or directly to Elasticsearch.
contents:
  - {src: %[1]q, dst: /usr/share/filebeat/bin/filebeat, file_info: {mode: 0755}}
  - {src: %[2]q, dst: /usr/share/filebeat/LICENSE.txt, file_info: {mode: 0644}}
  - {src: %[3]q, dst: /usr/share/filebeat/NOTICE.txt, file_info: {mode: 0644}}
  - {src: %[4]q, dst: /etc/filebeat/filebeat.reference.yml, file_info: {mode: 0644}}
  - {src: %[5]q, dst: /etc/filebeat/filebeat.yml, type: config|noreplace, file_info: {mode: 0600}}
  - {src: %[6]q, dst: /usr/share/filebeat/module, type: tree}
  - {src: %[7]q, dst: /etc/filebeat/modules.d, type: config|noreplace|tree}
  - {src: %[8]q, dst: /usr/bin/filebeat, file_info: {mode: 0755}}
  - {src: %[9]q, dst: /lib/systemd/system/filebeat.service, file_info: {mode: 0644}}
scripts:
  postinstall: %[10]q
deb:
  compression: none # what dpkg installs does not depend on it, and it is quicker
`,
		filepath.Join(distDir, "filebeat"), filepath.Join(beats, "LICENSE.txt"), filepath.Join(beats, "NOTICE.txt"),
		filepath.Join(beats, "filebeat/filebeat.reference.yml"), filepath.Join(beats, "filebeat/filebeat.yml"),
		filepath.Join(distDir, "module"), filepath.Join(distDir, "modules.d"),
		render("linux/beatname.sh.tmpl", "filebeat.sh"), render("linux/systemd.unit.tmpl", "filebeat.service"),
		filepath.Join(beats, "dev-tools/packaging/files/linux/systemd-daemon-reload.sh"))
	configPath := filepath.Join(dir, "filebeat.nfpm.yaml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	out, status := runIn(t, filepath.Join(root, "packaging"), nil, "go", "run", ".", "-config", configPath, "-packager", "deb", "-target", dir)
	m := regexp.MustCompile(`(?m)^packaged (\S+)$`).FindStringSubmatch(out)
	if status != 0 || m == nil {
		t.Fatalf("packaging the stand-in for Elastic's filebeat exited %d:\n%s", status, out)
	}
	return m[1]
}

// renderBeatsTemplate renders one of Beats' packaging templates as
// Elastic's packaging does for Filebeat (dev-tools/mage/settings.go,
// filebeat/magefile.go).
func renderBeatsTemplate(t *testing.T, beats, name string) string {
	t.Helper()
	tmpl, err := template.New(filepath.Base(name)).
		Funcs(template.FuncMap{"title": strings.Title}). //lint:ignore SA1019 Beats' templates use title, which Beats maps to strings.Title
		ParseFiles(filepath.Join(beats, "dev-tools/packaging/templates", name))
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

// moduleDir is where the module cache holds a module of this one's build.
func moduleDir(t *testing.T, path string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", path)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}
