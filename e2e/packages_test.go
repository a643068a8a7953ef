package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The package tests: the deb and rpm packages of ./build.sh package, read
// with rpm and installed with dpkg on this machine, as root; everything
// installed is purged at the end. They make, besides the packages of this
// checkout, a plugin-only upgrade (./build.sh package plugin) and a plugin
// package built in a copy of the module with another gorilla/websocket, as
// the deployment test's mismatched plugin, with the Filebeat it loads into.

const (
	unitFile     = "/lib/systemd/system/filebeat.service"
	installedFB  = "/usr/share/filebeat/bin/filebeat"
	installedSO  = "/usr/share/filebeat/plugins/websocket.so"
	installedCfg = "/etc/filebeat/filebeat.yml"
)

// packageBuilds are the packages the tests install.
type packageBuilds struct {
	main       packageSet // ./build.sh package
	upgrade    packageSet // ./build.sh package plugin, for main's filebeat
	mismatched packageSet // ./build.sh package plugin in a copy with another gorilla/websocket
}

func TestPackages(t *testing.T) {
	requirePackageMachine(t)
	dir := t.TempDir()
	var b packageBuilds
	b.main = buildPackages(t, root, filepath.Join(dir, "dist"), nil, "package")

	// The hot swap: a plugin rebuilt alone, checked against main's
	// filebeat, with a later version, as the next commit's build has.
	version := strings.TrimSpace(readFile(t, filepath.Join(b.main.dist, "websocket.so.version")))
	b.upgrade = buildPackages(t, root, hostOnlyDist(t, filepath.Join(dir, "upgrade"), filepath.Join(b.main.dist, "filebeat")),
		[]string{"PLUGIN_VERSION=" + version + "-next"}, "package", "plugin")

	// A plugin package built, with its own Filebeat, from a go.mod with
	// another gorilla/websocket: what someone would make from a checkout
	// whose go.mod changed, a release later.
	src := filepath.Join(dir, "mismatched", "src")
	mismatchedCopy(t, src)
	mmDist := filepath.Join(dir, "mismatched", "dist")
	mismatchedVersion := []string{"PLUGIN_VERSION=v99.0.0-mismatched"}
	buildPackages(t, src, mmDist, mismatchedVersion)
	b.mismatched = buildPackages(t, src, mmDist, mismatchedVersion, "package", "plugin")

	t.Run("each package and the tarball has a .sha512 as Elastic's downloads", func(t *testing.T) {
		for _, file := range []string{b.main.hostDeb, b.main.hostRPM, b.main.pluginDeb, b.main.pluginRPM, b.main.tarball} {
			line := readFile(t, file+".sha512")
			sum, name, ok := strings.Cut(line, "  ")
			if !ok || len(sum) != 128 || name != filepath.Base(file) || strings.HasSuffix(line, "\n") {
				t.Errorf("%s.sha512 is %q, want \"<sha512>  %s\" without a newline", file, line, filepath.Base(file))
			}
			if out, status := runIn(t, filepath.Dir(file), nil, "sha512sum", "-c", filepath.Base(file)+".sha512"); status != 0 {
				t.Errorf("sha512sum -c %s.sha512 exited %d:\n%s", file, status, out)
			}
		}
	})
	t.Run("the host provides its filebeat's capability, the plugin requires it before unpacking", func(t *testing.T) {
		testRelations(t, b)
	})
	t.Run("package versions order as builds follow each other", func(t *testing.T) {
		v1, v2 := debField(t, b.main.pluginDeb, "Version"), debField(t, b.upgrade.pluginDeb, "Version")
		if out, status := runIn(t, "/", nil, "dpkg", "--compare-versions", v2, "gt", v1); status != 0 {
			t.Errorf("the plugin-only build's version %s is not above %s: dpkg would downgrade\n%s", v2, v1, out)
		}
		if v := debField(t, b.mismatched.pluginDeb, "Version"); v != "99.0.0+mismatched" {
			t.Errorf("PLUGIN_VERSION=v99.0.0-mismatched made package version %s, want 99.0.0+mismatched", v)
		}
	})
	t.Run("rpm lists the files of Elastic's layout", func(t *testing.T) { testRPMFiles(t, b.main) })
	t.Run("rpm refuses the plugin without its host and beside another one", func(t *testing.T) { testRPMRefusals(t, b) })
	t.Run("dpkg installs, runs as the unit does, upgrades the plugin alone, refuses a mismatched plugin, purges", func(t *testing.T) {
		testDebLifecycle(t, b)
	})
	t.Run("dpkg replaces Elastic's filebeat package, keeping its configuration and registry", func(t *testing.T) {
		testReplaceElastic(t, b.main)
	})
}

// capabilityOf is what plugincheck -capability says of a Filebeat.
func capabilityOf(t *testing.T, filebeat string) string {
	t.Helper()
	out, status := runIn(t, "/", nil, filepath.Join(dist, "plugincheck"), "-capability", filebeat)
	if status != 0 {
		t.Fatalf("plugincheck -capability %s exited %d:\n%s", filebeat, status, out)
	}
	return strings.TrimSpace(out)
}

func testRelations(t *testing.T, b packageBuilds) {
	abi := capabilityOf(t, filepath.Join(b.main.dist, "filebeat"))
	other := capabilityOf(t, filepath.Join(b.mismatched.dist, "filebeat"))
	if !strings.HasPrefix(abi, "filebeat-plugin-abi-go1.") || abi == other {
		t.Fatalf("capabilities %q (this checkout) and %q (another gorilla/websocket): want two of plugincheck's names", abi, other)
	}
	for _, c := range []struct{ deb, field, want string }{
		{b.main.hostDeb, "Package", "filebeat-ws"},
		{b.main.hostDeb, "Provides", abi + ", filebeat (= 7.17.29)"},
		{b.main.hostDeb, "Conflicts", "filebeat"},
		{b.main.hostDeb, "Replaces", "filebeat"},
		{b.main.pluginDeb, "Package", "filebeat-output-websocket"},
		{b.main.pluginDeb, "Pre-Depends", abi},
		{b.main.pluginDeb, "Depends", ""},
		{b.upgrade.pluginDeb, "Pre-Depends", abi},
		{b.mismatched.pluginDeb, "Pre-Depends", other},
	} {
		if got := debField(t, c.deb, c.field); got != c.want {
			t.Errorf("%s: %s: %q, want %q", filepath.Base(c.deb), c.field, got, c.want)
		}
	}
	if v := debField(t, b.main.hostDeb, "Version"); !strings.HasPrefix(v, "7.17.29-") {
		t.Errorf("the host's version %s does not start with Beats' 7.17.29-", v)
	}

	rpmQuery := func(rpm string, query ...string) []string {
		out, status := runIn(t, "/", nil, "rpm", append([]string{"-qp"}, append(query, rpm)...)...)
		if status != 0 {
			t.Fatalf("rpm -qp %s %s exited %d:\n%s", strings.Join(query, " "), rpm, status, out)
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(l, "rpmlib(") && l != "" {
				lines = append(lines, l)
			}
		}
		return lines
	}
	for _, c := range []struct {
		rpm   string
		query []string
		want  string
	}{
		{b.main.pluginRPM, []string{"-R"}, abi},
		{b.upgrade.pluginRPM, []string{"-R"}, abi},
		{b.mismatched.pluginRPM, []string{"-R"}, other},
		{b.main.hostRPM, []string{"-R"}, ""},
		{b.main.hostRPM, []string{"--conflicts"}, "filebeat"},
		{b.main.hostRPM, []string{"--obsoletes"}, ""}, // dnf would otherwise swap Elastic's filebeat out on any upgrade
	} {
		if got := strings.Join(rpmQuery(c.rpm, c.query...), "\n"); got != c.want {
			t.Errorf("rpm -qp %s %s: %q, want %q", strings.Join(c.query, " "), filepath.Base(c.rpm), got, c.want)
		}
	}
	provides := strings.Join(rpmQuery(b.main.hostRPM, "--provides"), "\n")
	for _, want := range []string{abi, "filebeat = 7.17.29"} {
		if !strings.Contains(provides, want+"\n") {
			t.Errorf("rpm -qp --provides %s does not list %s:\n%s", filepath.Base(b.main.hostRPM), want, provides)
		}
	}
}

func testRPMFiles(t *testing.T, set packageSet) {
	list := func(query, rpm string) string {
		out, status := runIn(t, "/", nil, "rpm", query, rpm)
		if status != 0 {
			t.Fatalf("rpm %s %s exited %d:\n%s", query, rpm, status, out)
		}
		return "\n" + out
	}
	host := list("-qpl", set.hostRPM)
	for _, want := range []string{installedFB, "/usr/share/filebeat/plugins",
		"/usr/share/filebeat/module/nginx/access/ingest/pipeline.yml", "/usr/share/filebeat/LICENSE.txt", "/usr/share/filebeat/NOTICE.txt",
		installedCfg, "/etc/filebeat/filebeat.reference.yml", "/etc/filebeat/modules.d/nginx.yml.disabled",
		"/usr/bin/filebeat", unitFile} {
		if !strings.Contains(host, "\n"+want+"\n") {
			t.Errorf("rpm -qpl %s does not list %s", filepath.Base(set.hostRPM), want)
		}
	}
	for _, unwanted := range []string{"/_meta/", "/test/", "fields.go", "x-pack", ".so\n"} {
		if strings.Contains(host, unwanted) {
			t.Errorf("rpm -qpl %s lists %s, which Elastic's package leaves out", filepath.Base(set.hostRPM), unwanted)
		}
	}
	// filebeat loads the plugins folder itself: no start script turns it
	// into --plugin flags (as before plugindir).
	if strings.Contains(host, "/usr/share/filebeat/bin/filebeat-with-plugins\n") {
		t.Errorf("rpm -qpl %s lists the plugins' start script, which the host no longer needs", filepath.Base(set.hostRPM))
	}
	config := list("-qpc", set.hostRPM)
	for _, want := range []string{installedCfg, "/etc/filebeat/modules.d/nginx.yml.disabled"} {
		if !strings.Contains(config, "\n"+want+"\n") {
			t.Errorf("rpm -qpc %s: %s is not a configuration file", filepath.Base(set.hostRPM), want)
		}
	}
	want := "\n/usr/share/doc/filebeat-output-websocket/BUILDINFO\n/usr/share/doc/filebeat-output-websocket/filebeat.yml.example\n" +
		"/usr/share/filebeat/plugins/plugincheck\n/usr/share/filebeat/plugins/websocket.so\n"
	if got := list("-qpl", set.pluginRPM); got != want {
		t.Errorf("rpm -qpl %s:%s\nwant:%s", filepath.Base(set.pluginRPM), got, want)
	}
}

// testRPMRefusals runs rpm's own dependency check (rpm -i --test) against
// a database of its own, so nothing is installed on this machine: the
// host recorded in it without its files (--justdb).
func testRPMRefusals(t *testing.T, b packageBuilds) {
	db := filepath.Join(t.TempDir(), "rpmdb")
	rpm := func(args ...string) (string, int) {
		return runIn(t, "/", nil, "rpm", append([]string{"--dbpath", db}, args...)...)
	}
	if out, status := rpm("--initdb"); status != 0 {
		t.Fatalf("rpm --initdb: %d\n%s", status, out)
	}
	abi := capabilityOf(t, filepath.Join(b.main.dist, "filebeat"))
	out, status := rpm("-i", "--test", b.main.pluginRPM)
	if want := abi + " is needed by filebeat-output-websocket"; status == 0 || !strings.Contains(out, want) {
		t.Errorf("rpm -i --test of the plugin without its host exited %d, want a refusal saying %q:\n%s", status, want, out)
	}
	if out, status := rpm("-i", "--test", b.main.hostRPM); status != 0 {
		t.Fatalf("rpm -i --test of the host exited %d:\n%s", status, out)
	}
	if out, status := rpm("-i", "--justdb", "--noscripts", b.main.hostRPM); status != 0 {
		t.Fatalf("rpm -i --justdb of the host exited %d:\n%s", status, out)
	}
	for _, plugin := range []string{b.main.pluginRPM, b.upgrade.pluginRPM} {
		if out, status := rpm("-i", "--test", plugin); status != 0 {
			t.Errorf("rpm -i --test %s beside its host exited %d:\n%s", filepath.Base(plugin), status, out)
		}
	}
	other := capabilityOf(t, filepath.Join(b.mismatched.dist, "filebeat"))
	out, status = rpm("-i", "--test", b.mismatched.pluginRPM)
	if want := other + " is needed by filebeat-output-websocket"; status == 0 || !strings.Contains(out, want) {
		t.Errorf("rpm -i --test of the mismatched plugin exited %d, want a refusal saying %q:\n%s", status, want, out)
	}
	t.Logf("rpm's refusal:\n%s", out)
}

// startupLines are the first lines of a Filebeat log, up to its first
// connection, without the long ones describing the host and the process.
func startupLines(log string) string {
	var lines []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "system_info") {
			continue
		}
		lines = append(lines, l)
		if strings.Contains(l, ") established") || len(lines) == 40 {
			break
		}
	}
	return strings.Join(lines, "\n")
}

// assertStartedWith fails unless log has the plugin's start-up line for
// version and no ERROR.
func assertStartedWith(t *testing.T, log, version string) {
	t.Helper()
	if want := "websocket output " + version + " (built with Beats 7.17.29"; !strings.Contains(log, want) {
		t.Errorf("the installed Filebeat's log has no %q:\n%s", want, startupLines(log))
	}
	if errors := logLines(log, "ERROR"); len(errors) > 0 {
		t.Errorf("the installed Filebeat logged errors:\n%s", strings.Join(errors, "\n"))
	}
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	return sha256File(t, a) == sha256File(t, b)
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Sys().(*syscall.Stat_t).Ino
}
