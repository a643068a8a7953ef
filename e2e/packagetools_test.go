package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Helpers of the package tests: building packages with ./build.sh, the
// state of dpkg, and running Filebeat as a systemd unit file says.

// packageSet is what one run of ./build.sh package (or package plugin)
// made, by kind; a kind it did not make is "".
type packageSet struct {
	dist                                   string // the DIST folder
	hostDeb, hostRPM, pluginDeb, pluginRPM string
	tarball                                string
}

var packagedLine = regexp.MustCompile(`(?m)^(?:packaged|bundled) (\S+)$`)

// buildPackages runs ./build.sh with args in src, with DIST=dist and env,
// and returns what it packaged.
func buildPackages(t *testing.T, src, dist string, env []string, args ...string) packageSet {
	t.Helper()
	started := time.Now()
	out, status := runIn(t, src, append([]string{"DIST=" + dist}, env...), "./build.sh", args...)
	if status != 0 {
		t.Fatalf("./build.sh %s exited %d:\n%s", strings.Join(args, " "), status, out)
	}
	t.Logf("./build.sh %s: %v", strings.Join(args, " "), time.Since(started).Round(100*time.Millisecond))
	set := packageSet{dist: dist}
	for _, m := range packagedLine.FindAllStringSubmatch(out, -1) {
		path, name := m[1], filepath.Base(m[1])
		switch {
		case strings.HasPrefix(name, "filebeat-ws_") && strings.HasSuffix(name, ".deb"):
			set.hostDeb = path
		case strings.HasPrefix(name, "filebeat-ws-") && strings.HasSuffix(name, ".rpm"):
			set.hostRPM = path
		case strings.HasPrefix(name, "filebeat-output-websocket_") && strings.HasSuffix(name, ".deb"):
			set.pluginDeb = path
		case strings.HasPrefix(name, "filebeat-output-websocket-") && strings.HasSuffix(name, ".rpm"):
			set.pluginRPM = path
		case strings.HasSuffix(name, ".tar.gz"):
			set.tarball = path
		default:
			t.Fatalf("./build.sh %s made %s, which this test does not know", strings.Join(args, " "), path)
		}
	}
	return set
}

// requirePackageMachine skips the test unless it runs as root, and fails
// it if a Filebeat is installed already: the package tests install
// packages on this machine and purge them.
func requirePackageMachine(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the package tests install and purge deb packages on this machine with dpkg: they run as root (CI does)")
	}
	for _, program := range []string{"dpkg", "dpkg-deb", "dpkg-query", "rpm", "sha512sum"} {
		if _, err := exec.LookPath(program); err != nil {
			t.Fatalf("the package tests need %s: apt-get install dpkg rpm coreutils (.ci/run and ./build.sh test install rpm)", program)
		}
	}
	for _, pkg := range []string{"filebeat", "filebeat-ws", "filebeat-output-websocket"} {
		if status := packageStatus(t, pkg); status != "" {
			t.Fatalf("package %s is on this machine (%s): the package tests would replace and purge it; run them on a machine without Filebeat", pkg, status)
		}
	}
	for _, path := range []string{"/etc/filebeat", "/usr/share/filebeat", "/var/lib/filebeat", "/var/log/filebeat"} {
		if _, err := os.Stat(path); err == nil {
			t.Fatalf("%s exists: the package tests would use and remove it; run them on a machine without Filebeat", path)
		}
	}
}

// packageStatus is dpkg's status of pkg ("install ok installed", ...), or
// "" if dpkg does not know it or it is gone.
func packageStatus(t *testing.T, pkg string) string {
	t.Helper()
	out, status := runIn(t, "/", nil, "dpkg-query", "-W", "-f=${Status}", pkg)
	if status != 0 || strings.HasSuffix(out, " not-installed") {
		return ""
	}
	return out
}

// installedVersion is the version of pkg dpkg has installed; the test
// fails if it is not installed.
func installedVersion(t *testing.T, pkg string) string {
	t.Helper()
	if status := packageStatus(t, pkg); status != "install ok installed" {
		t.Fatalf("package %s is not installed (dpkg: %q)", pkg, status)
	}
	out, _ := runIn(t, "/", nil, "dpkg-query", "-W", "-f=${Version}", pkg)
	return out
}

// debField is a field of a deb's control file.
func debField(t *testing.T, deb, field string) string {
	t.Helper()
	out, status := runIn(t, "/", nil, "dpkg-deb", "-f", deb, field)
	if status != 0 {
		t.Fatalf("dpkg-deb -f %s %s exited %d:\n%s", deb, field, status, out)
	}
	return strings.TrimSpace(out)
}

// dpkg runs dpkg with args and returns its output and exit status.
func dpkg(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return runIn(t, "/", []string{"DEBIAN_FRONTEND=noninteractive"}, "dpkg", args...)
}

func mustDpkg(t *testing.T, args ...string) string {
	t.Helper()
	out, status := dpkg(t, args...)
	if status != 0 {
		t.Fatalf("dpkg %s exited %d:\n%s", strings.Join(args, " "), status, out)
	}
	return out
}

// purgeFilebeat purges every package the tests install and removes what
// Filebeat itself writes and no package removes (its data and logs, as
// with Elastic's package), then checks nothing is left.
func purgeFilebeat(t *testing.T) {
	t.Helper()
	var installed []string
	for _, pkg := range []string{"filebeat-output-websocket", "filebeat-ws", "filebeat"} {
		if packageStatus(t, pkg) != "" {
			installed = append(installed, pkg)
		}
	}
	if len(installed) > 0 {
		mustDpkg(t, append([]string{"--purge"}, installed...)...)
	}
	for _, path := range []string{"/var/lib/filebeat", "/var/log/filebeat"} {
		if err := os.RemoveAll(path); err != nil {
			t.Error(err)
		}
	}
	for _, path := range []string{"/etc/filebeat", "/usr/share/filebeat", "/usr/bin/filebeat", "/lib/systemd/system/filebeat.service"} {
		if _, err := os.Stat(path); err == nil {
			t.Errorf("%s is still there after dpkg --purge %s", path, strings.Join(installed, " "))
		}
	}
}

// editFile replaces, in the file at path, each old string, which must
// occur exactly once, with its new one, as an operator editing it would.
func editFile(t *testing.T, path string, oldNew ...string) {
	t.Helper()
	s := readFile(t, path)
	for i := 0; i+1 < len(oldNew); i += 2 {
		if n := strings.Count(s, oldNew[i]); n != 1 {
			t.Fatalf("%q occurs %d times in %s, want once:\n%s", oldNew[i], n, path, s)
		}
		s = strings.Replace(s, oldNew[i], oldNew[i+1], 1)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil { // an existing file keeps its mode
		t.Fatal(err)
	}
}

// systemdPath is the PATH systemd gives a service's processes.
const systemdPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// startUnit runs the ExecStart= of the systemd unit file at unitPath as
// systemd would (without systemd): its Environment= and systemd's PATH as
// the whole environment, its $VARIABLES replaced, in /. Its output goes to
// logPath.
func startUnit(t *testing.T, unitPath, logPath string) *process {
	t.Helper()
	argv, env := unitCommand(t, unitPath)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append([]string{systemdPath}, env...)
	cmd.Dir = "/"
	return startCmd(t, logPath, cmd)
}

// unitCommand reads a systemd unit file's ExecStart= and Environment=, and
// returns the command line systemd runs and the environment it sets. It
// knows what Beats' unit uses: quoting, and $VAR and ${VAR} as whole words
// (systemd.service(5), "Command lines"); anything else fails the test.
func unitCommand(t *testing.T, unitPath string) (argv, env []string) {
	t.Helper()
	var execStart string
	for _, l := range strings.Split(readFile(t, unitPath), "\n") {
		key, value, _ := strings.Cut(l, "=")
		switch key {
		case "Environment":
			env = append(env, unitWords(t, value)...)
		case "ExecStart":
			if execStart != "" {
				t.Fatalf("%s has two ExecStart= lines", unitPath)
			}
			execStart = value
		}
	}
	if execStart == "" {
		t.Fatalf("%s has no ExecStart=", unitPath)
	}
	vars := map[string]string{}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		vars[k] = v
	}
	for _, word := range unitWords(t, execStart) {
		switch {
		case strings.HasPrefix(word, "${") && strings.HasSuffix(word, "}"):
			argv = append(argv, vars[word[2:len(word)-1]])
		case strings.HasPrefix(word, "$"):
			argv = append(argv, strings.Fields(vars[word[1:]])...) // split at whitespace, as systemd does
		case strings.Contains(word, "$"):
			t.Fatalf("%s: ExecStart= word %q uses a variable in a way this test does not know", unitPath, word)
		default:
			argv = append(argv, word)
		}
	}
	if len(argv) == 0 || !filepath.IsAbs(argv[0]) {
		t.Fatalf("%s: ExecStart= does not start with an absolute path: %v", unitPath, argv)
	}
	return argv, env
}

// unitWords splits a unit file's value into words at spaces, taking
// double- or single-quoted parts as they are, without the quotes.
func unitWords(t *testing.T, value string) []string {
	t.Helper()
	var words []string
	var word strings.Builder
	var quote rune
	inWord := false
	for _, r := range value {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			word.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quote in %q", value)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}

func TestUnitCommand_ReadsBeatsUnitAsSystemdDoes(t *testing.T) {
	unit := filepath.Join(t.TempDir(), "filebeat.service")
	err := os.WriteFile(unit, []byte(`[Service]
Environment="GODEBUG='madvdontneed=1'"
Environment="BEAT_LOG_OPTS="
Environment="BEAT_CONFIG_OPTS=-c /etc/filebeat/filebeat.yml"
Environment="BEAT_PATH_OPTS=--path.home /usr/share/filebeat --path.data /var/lib/filebeat"
ExecStart=/usr/share/filebeat/bin/filebeat --environment systemd $BEAT_LOG_OPTS $BEAT_CONFIG_OPTS ${BEAT_PATH_OPTS}
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	argv, env := unitCommand(t, unit)
	wantArgv := []string{"/usr/share/filebeat/bin/filebeat", "--environment", "systemd", "-c", "/etc/filebeat/filebeat.yml",
		"--path.home /usr/share/filebeat --path.data /var/lib/filebeat"}
	wantEnv := []string{"GODEBUG='madvdontneed=1'", "BEAT_LOG_OPTS=", "BEAT_CONFIG_OPTS=-c /etc/filebeat/filebeat.yml",
		"BEAT_PATH_OPTS=--path.home /usr/share/filebeat --path.data /var/lib/filebeat"}
	if !slices.Equal(argv, wantArgv) || !slices.Equal(env, wantEnv) {
		t.Errorf("unitCommand:\n%q\n%q\nwant\n%q\n%q", argv, env, wantArgv, wantEnv)
	}
}
