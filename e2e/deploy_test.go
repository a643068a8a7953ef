package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The deployment tests: plugincheck on real binaries, the refusals of
// ./build.sh plugin, a real plugin that differs from dist/filebeat in one
// dependency, and the release bundle of ./build.sh dist, built from a copy
// of the module elsewhere to show that builds are reproducible.

func TestPluginCheck_SaysCompatibleForTheBuildOfDist(t *testing.T) {
	out, status := runIn(t, root, nil, filepath.Join(dist, "plugincheck"),
		filepath.Join(dist, "filebeat"), filepath.Join(dist, "websocket.so"))
	if status != 0 || !strings.HasPrefix(out, "compatible: websocket.so can load into filebeat") {
		t.Fatalf("plugincheck exited %d:\n%s", status, out)
	}
}

func TestPluginCheck_SwappedArgumentsAreAUsageError(t *testing.T) {
	out, status := runIn(t, root, nil, filepath.Join(dist, "plugincheck"),
		filepath.Join(dist, "websocket.so"), filepath.Join(dist, "filebeat"))
	if status != 2 || !strings.Contains(out, "is a plugin and") || !strings.Contains(out, "give the program first") {
		t.Fatalf("plugincheck exited %d, want 2 and a usage error:\n%s", status, out)
	}
}

// gorillaVersion is the gorilla/websocket a mismatched plugin is built with:
// older than go.mod's, and still newer than what Beats requires, so minimal
// version selection takes it. The tests that build one (this file's and
// TestPackages) run on the 7.17 line only: Beats 9.5 requires
// v1.5.4-0.20250319132907-e064f32e3674, so there a mismatched plugin would
// need a newer one, not an older one.
const gorillaVersion = "v1.5.1"

// mismatchedCopy copies this checkout to src with gorilla/websocket at
// gorillaVersion in each module the plugin is built from, the root and the
// transport core: a module graph takes the highest version any of them
// requires.
func mismatchedCopy(t *testing.T, src string) {
	t.Helper()
	copyTree(t, root, src, "dist", ".git", ".bench")
	for _, module := range []string{".", "transport"} {
		mustRun(t, filepath.Join(src, module), nil, "go", "mod", "edit", "-require=github.com/gorilla/websocket@"+gorillaVersion)
	}
	mustRun(t, src, nil, "go", "mod", "download", "github.com/gorilla/websocket")
}

func TestMismatchedDependency_IsReportedByNameAndRefused(t *testing.T) {
	dir := t.TempDir()
	hostVersion := moduleVersionIn(t, filepath.Join(dist, "filebeat"), "github.com/gorilla/websocket")
	if hostVersion == gorillaVersion {
		t.Fatalf("dist/filebeat already has gorilla/websocket %s: pick another version for this test", gorillaVersion)
	}

	// A copy of this module whose only change is the gorilla/websocket
	// version, its plugin built where there is no filebeat to check it
	// against, as someone building only a plugin would.
	src := filepath.Join(dir, "src")
	mismatchedCopy(t, src)
	alone := filepath.Join(dir, "alone")
	mustRun(t, src, []string{"DIST=" + alone, "PLUGIN_VERSION=mismatched"}, "./build.sh", "plugin")
	plugin := filepath.Join(alone, "websocket.so")
	wantLine := fmt.Sprintf("module github.com/gorilla/websocket: filebeat has %s, websocket.so has %s", hostVersion, gorillaVersion)

	t.Run("plugincheck names the module and exits 1", func(t *testing.T) {
		out, status := runIn(t, root, nil, filepath.Join(dist, "plugincheck"), filepath.Join(dist, "filebeat"), plugin)
		if status != 1 || !strings.Contains(out, "\n  "+wantLine+"\n") || !strings.HasPrefix(out, "incompatible: websocket.so cannot load into filebeat (1 mismatch):") {
			t.Fatalf("plugincheck exited %d, want 1 and the line %q:\n%s", status, wantLine, out)
		}
	})

	t.Run("Filebeat refuses to load it", func(t *testing.T) {
		fbDir := filepath.Join(dir, "filebeat")
		if err := os.Mkdir(fbDir, 0o755); err != nil {
			t.Fatal(err)
		}
		fb := startFilebeat(t, fbDir, plugin, inputFor(filepath.Join(fbDir, "app.log")), "addr: 127.0.0.1:9")
		if err := fb.wait(t, time.Minute); err == nil {
			t.Fatalf("Filebeat loaded the mismatched plugin:\n%s", fb.tail())
		}
		want := "plugin was built with a different version of package github.com/gorilla/websocket"
		if !strings.Contains(fb.output(), want) {
			t.Fatalf("Filebeat's error does not say %q:\n%s", want, fb.tail())
		}
		t.Logf("Filebeat's error: %s", strings.TrimSpace(fb.output()))
	})

	t.Run("./build.sh plugin refuses it for dist/filebeat", func(t *testing.T) {
		withHost := hostOnlyDist(t, filepath.Join(dir, "with-host"), filepath.Join(dist, "filebeat"))
		out, status := runIn(t, src, []string{"DIST=" + withHost, "PLUGIN_VERSION=mismatched"}, "./build.sh", "plugin")
		if status == 0 || !strings.Contains(out, "refusing websocket.so mismatched") || !strings.Contains(out, wantLine) {
			t.Fatalf("./build.sh plugin exited %d, want a refusal naming %q:\n%s", status, wantLine, out)
		}
		assertNoPlugin(t, withHost)
	})
}

func TestBuildPlugin_RefusesFilebeatOfAnotherGoRelease(t *testing.T) {
	dir := t.TempDir()
	// dist/filebeat with another Go release in its build information:
	// what a filebeat built before go.mod's pin changed looks like to
	// build.sh. Building a real one would take another toolchain.
	withHost := filepath.Join(dir, "dist")
	if err := os.Mkdir(withHost, 0o755); err != nil {
		t.Fatal(err)
	}
	ours, other := copyWithOtherGoRelease(t, filepath.Join(dist, "filebeat"), filepath.Join(withHost, "filebeat"))

	out, status := runIn(t, root, []string{"DIST=" + withHost}, "./build.sh", "plugin")
	for _, want := range []string{
		"refusing to build websocket.so",
		"built with " + other + ", this checkout pins " + ours,
		"Fix, either:",
		"./build.sh        rebuild filebeat and websocket.so together",
	} {
		if status == 0 || !strings.Contains(out, want) {
			t.Fatalf("./build.sh plugin exited %d, want a refusal saying %q:\n%s", status, want, out)
		}
	}
	assertNoPlugin(t, withHost)

	out, status = runIn(t, root, nil, filepath.Join(dist, "plugincheck"),
		filepath.Join(withHost, "filebeat"), filepath.Join(dist, "websocket.so"))
	if want := fmt.Sprintf("Go: filebeat was built with %s, websocket.so with %s", other, ours); status != 1 || !strings.Contains(out, want) {
		t.Fatalf("plugincheck exited %d, want 1 and %q:\n%s", status, want, out)
	}
}

func TestBuild_RefusesAGoOtherThanGoModPins(t *testing.T) {
	// A copy of the module whose go.mod pins a release no machine has;
	// GOTOOLCHAIN=local keeps the go command from fetching it.
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	copyTree(t, root, src, "dist", ".git", ".bench")
	mustRun(t, src, []string{"GOTOOLCHAIN=local"}, "go", "mod", "edit", "-toolchain=go1.99.0")
	out, status := runIn(t, src, []string{"GOTOOLCHAIN=local", "DIST=" + filepath.Join(dir, "dist")}, "./build.sh", "plugin")
	want := "build.sh: this module pins go1.99.0 (go.mod), but go is " + goRelease(t)
	if status == 0 || !strings.Contains(out, want) || !strings.Contains(out, "Fix: install go1.99.0, or let the go command\nfetch it from the module proxy: GOTOOLCHAIN=go1.99.0 ./build.sh plugin") {
		t.Fatalf("./build.sh plugin exited %d, want a refusal starting %q, with the fix:\n%s", status, want, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "dist")); err == nil {
		t.Fatal("the refused build made a dist folder")
	}
}

// goRelease is the Go release that built dist/filebeat: the pinned one.
func goRelease(t *testing.T) string {
	t.Helper()
	bi, err := buildinfo.ReadFile(filepath.Join(dist, "filebeat"))
	if err != nil {
		t.Fatal(err)
	}
	return bi.GoVersion
}

// TestRelease builds the release bundle once, from a checkout of the same
// tree in another folder (so its Filebeat has dist/'s build stamp) and
// with an empty build cache, so everything is compiled anew (about two
// minutes), and checks it from several sides.
func TestRelease(t *testing.T) {
	dir := t.TempDir()
	src, other := filepath.Join(dir, "src"), filepath.Join(dir, "dist")
	checkoutCopy(t, src)
	version := strings.TrimSpace(readFile(t, filepath.Join(dist, "websocket.so.version")))
	mustRun(t, src, []string{"DIST=" + other, "PLUGIN_VERSION=" + version, "GOCACHE=" + filepath.Join(dir, "gocache")},
		"./build.sh", "dist")

	t.Run("a clean build elsewhere gives binaries identical to dist/'s", func(t *testing.T) {
		for _, name := range []string{"filebeat", "websocket.so"} {
			a, b := sha256File(t, filepath.Join(dist, name)), sha256File(t, filepath.Join(other, name))
			if a != b {
				t.Errorf("%s differs between two builds of the same source: %s in %s, %s in %s", name, a, dist, b, other)
			}
			t.Logf("%s sha256 %s in both builds", name, a)
		}
	})

	bundle := filepath.Join(other, "websocket-output-"+version+"-linux-amd64.tar.gz")
	unpacked := filepath.Join(dir, "unpacked")
	top := untar(t, bundle, unpacked)
	release := filepath.Join(unpacked, top)

	t.Run("the bundle holds the release and SHA256SUMS verifies it", func(t *testing.T) {
		if want := strings.TrimSuffix(filepath.Base(bundle), ".tar.gz"); top != want {
			t.Fatalf("the bundle's folder is %q, want %q", top, want)
		}
		sums := readSums(t, filepath.Join(release, "SHA256SUMS"))
		want := []string{"BUILDINFO", "INSTALL.md", "LICENSE.txt", "NOTICE.txt", "README.md", "filebeat", "filebeat.reference.yml",
			"filebeat.yml", "filebeat.yml.example", "plugincheck", "websocket.so"}
		if got := slices.Sorted(maps.Keys(sums)); !slices.Equal(got, want) {
			t.Fatalf("SHA256SUMS lists %v, want %v", got, want)
		}
		for name, sum := range sums {
			if got := sha256File(t, filepath.Join(release, name)); got != sum {
				t.Errorf("%s: sha256 %s, SHA256SUMS says %s", name, got, sum)
			}
		}
		if got, want := sums["websocket.so"], sha256File(t, filepath.Join(dist, "websocket.so")); got != want {
			t.Errorf("the bundle's websocket.so is not the build's: %s, want %s", got, want)
		}
		if info := readFile(t, filepath.Join(release, "BUILDINFO")); !strings.Contains(info, "check: compatible") {
			t.Errorf("BUILDINFO does not record a passed check:\n%s", info)
		}
	})

	t.Run("the bundle is laid out like Elastic's Filebeat tarball", func(t *testing.T) {
		for _, folder := range []string{"module", "modules.d"} {
			if got, want := treeFiles(t, filepath.Join(release, folder)), treeFiles(t, filepath.Join(dist, folder)); !slices.Equal(got, want) || len(got) == 0 {
				t.Errorf("the bundle's %s/ holds %d files, want dist/%s/'s %d: %v", folder, len(got), folder, len(want), got)
			}
		}
		if _, err := os.Stat(filepath.Join(release, "module/nginx/access/ingest/pipeline.yml")); err != nil {
			t.Errorf("the bundle has no nginx module: %v", err)
		}
		info, err := os.Stat(filepath.Join(release, "filebeat.yml"))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("the bundle's filebeat.yml: %v, mode %v, want 0600 as Elastic's", err, info.Mode().Perm())
		} else if config := readFile(t, filepath.Join(release, "filebeat.yml")); !strings.Contains(config, "\noutput.websocket:\n") {
			t.Errorf("the bundle's filebeat.yml configures no output.websocket:\n%s", config)
		}
	})

	t.Run("a .sha512 beside the bundle verifies it, as Elastic's downloads have", func(t *testing.T) {
		out, status := runIn(t, other, nil, "sha512sum", "-c", filepath.Base(bundle)+".sha512")
		if status != 0 || strings.TrimSpace(out) != filepath.Base(bundle)+": OK" {
			t.Fatalf("sha512sum -c exited %d:\n%s", status, out)
		}
	})

	t.Run("the bundle's plugincheck says compatible", func(t *testing.T) {
		out, status := runIn(t, release, nil, "./plugincheck", "filebeat", "websocket.so")
		if status != 0 || !strings.HasPrefix(out, "compatible:") {
			t.Fatalf("plugincheck exited %d:\n%s", status, out)
		}
	})

	t.Run("the bundle's filebeat loads the bundle's plugin and ships events, logging no ERROR", func(t *testing.T) {
		log := shipLines(t, filepath.Join(dir, "run"), filepath.Join(release, "filebeat"), filepath.Join(release, "websocket.so"), 1000)
		if errors := logLines(log, "ERROR"); len(errors) > 0 {
			t.Errorf("Filebeat in the unpacked bundle logged errors:\n%s", strings.Join(errors, "\n"))
		}
	})
}

// treeFiles returns the files under dir, by their path in it, sorted.
func treeFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		files = append(files, rel)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// logLines returns the lines of a Filebeat log at level (INFO, WARN,
// ERROR, ...), in Filebeat's console format: the level is the second
// field.
func logLines(log, level string) []string {
	var found []string
	for _, l := range strings.Split(log, "\n") {
		if fields := strings.Fields(l); len(fields) > 1 && fields[1] == level {
			found = append(found, l)
		}
	}
	return found
}

// shipLines runs binary --plugin plugin until n generated lines have
// reached a receiver, checks they arrived unchanged, and returns Filebeat's
// log.
func shipLines(t *testing.T, dir, binary, plugin string, n int) string {
	t.Helper()
	return shipLinesArgs(t, dir, binary, n, "--plugin", plugin, "--strict.perms=false", "--path.home", filepath.Dir(binary))
}

// shipLinesArgs is shipLines with the arguments that give the plugins and
// the home path.
func shipLinesArgs(t *testing.T, dir, binary string, n int, args ...string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
	writeLog(t, log, 0, n)
	recv := startReceiver(t, dir, "127.0.0.1:0", out)
	fb := launchFilebeatArgs(t, binary, dir, inputFor(log), outputTo(recv, ""), "", nil, args...)
	how := strings.Join(args, " ")
	waitFor(t, 2*time.Minute, fmt.Sprintf("%d messages from Filebeat started with %s", n, how), func() bool {
		if !fb.running() {
			t.Fatalf("Filebeat exited (%v):\n%s", fb.err, fb.tail())
		}
		return recv.stats(t).Events == int64(n)
	})
	fb.stop(t)
	recv.stop(t)
	if got := received(t, out); len(got) != n || got[n-1] != line(n-1) {
		t.Fatalf("received %d lines from Filebeat started with %s, want %d", len(got), how, n)
	}
	return fb.output()
}

// hostOnlyDist makes dir a DIST folder that holds only a link to host.
func hostOnlyDist(t *testing.T, dir, host string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, filepath.Join(dir, "filebeat")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// assertNoPlugin fails unless a refused build left no plugin in distDir.
func assertNoPlugin(t *testing.T, distDir string) {
	t.Helper()
	entries, err := os.ReadDir(distDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), "websocket.so") {
			t.Errorf("a refused build left %s in %s", e.Name(), distDir)
		}
	}
}

// copyWithOtherGoRelease copies the Go program from to to, with another Go
// release of the same length written into its build information, and
// returns the release it was built with and the one it now names.
func copyWithOtherGoRelease(t *testing.T, from, to string) (ours, other string) {
	t.Helper()
	bi, err := buildinfo.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	ours = bi.GoVersion
	last := ours[len(ours)-1]
	other = ours[:len(ours)-1] + string('0'+(last-'0'+1)%10)

	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	// The build information starts with this header; the Go release is the
	// first string after it.
	header := bytes.Index(b, []byte("\xff Go buildinf:"))
	at := bytes.Index(b[header:], []byte(ours))
	if header < 0 || at < 0 || at > 64 {
		t.Fatalf("no Go release %q after the build information header of %s", ours, from)
	}
	copy(b[header+at:], other)
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if bi, err := buildinfo.ReadFile(to); err != nil || bi.GoVersion != other {
		t.Fatalf("the copy's build information: %v, %v", bi, err)
	}
	return ours, other
}

func moduleVersionIn(t *testing.T, binary, module string) string {
	t.Helper()
	bi, err := buildinfo.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range bi.Deps {
		if d.Path == module {
			return d.Version
		}
	}
	t.Fatalf("%s has no module %s", binary, module)
	return ""
}

// runIn runs a command in dir with env added, and returns its combined
// output and exit status.
func runIn(t *testing.T, dir string, env []string, name string, args ...string) (string, int) {
	t.Helper()
	cmd := command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	default:
		t.Fatalf("%s: %v", name, err)
		return "", -1
	}
}

func mustRun(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	started := time.Now()
	if out, status := runIn(t, dir, env, name, args...); status != 0 {
		t.Fatalf("%s %s exited %d:\n%s", name, strings.Join(args, " "), status, out)
	}
	t.Logf("%s %s: %v", name, strings.Join(args, " "), time.Since(started).Round(100*time.Millisecond))
}

// untar unpacks a .tar.gz into dir and returns its one top-level folder.
func untar(t *testing.T, archive, dir string) string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tops := map[string]bool{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Clean(h.Name)
		if !filepath.IsLocal(name) {
			t.Fatalf("%s: entry %q leaves its folder", archive, h.Name)
		}
		tops[strings.Split(name, string(filepath.Separator))[0]] = true
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			err = writeFrom(target, tr, h.FileInfo().Mode().Perm())
		default:
			t.Fatalf("%s: entry %q of type %c", archive, h.Name, h.Typeflag)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(tops) != 1 {
		t.Fatalf("%s has %d top-level entries, want one folder: %v", archive, len(tops), slices.Sorted(maps.Keys(tops)))
	}
	return slices.Sorted(maps.Keys(tops))[0]
}

func writeFrom(path string, r io.Reader, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readSums reads a sha256sum file: "<hex>  <name>" lines.
func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(readFile(t, path)))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("%s: not a sha256sum line: %q", path, sc.Text())
		}
		sums[name] = sum
	}
	return sums
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
