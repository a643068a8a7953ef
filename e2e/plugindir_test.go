package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The plugins folder: dist/filebeat loads the plugins in the plugins
// folder of its home path without --plugin (package plugindir), as the
// packages install them, each once; one that others may write is refused
// unless --strict.perms=false; and a missing plugin says how to load it.

// pluginHome makes a Filebeat home under dir: dist's module/ (linked;
// without one every start logs an ERROR) and plugins/ with a copy of
// dist/websocket.so of mode perm, whose path it returns too.
func pluginHome(t *testing.T, dir string, perm os.FileMode) (home, installed string) {
	t.Helper()
	home = filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(home, "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dist, "module"), filepath.Join(home, "module")); err != nil {
		t.Fatal(err)
	}
	installed = filepath.Join(home, "plugins", "websocket.so")
	copyFile(t, filepath.Join(dist, "websocket.so"), installed)
	if err := os.Chmod(installed, perm); err != nil {
		t.Fatal(err)
	}
	return home, installed
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// filebeatFails runs dist/filebeat with args, the configuration shipping
// a log to a server that is never reached, and returns its output once it
// has exited; it fails the test if Filebeat runs on or exits with 0.
func filebeatFails(t *testing.T, dir string, args ...string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fb := launchFilebeatArgs(t, filepath.Join(dist, "filebeat"), dir, inputFor(filepath.Join(dir, "app.log")), "addr: 127.0.0.1:9", "", nil, args...)
	if err := fb.wait(t, time.Minute); err == nil {
		t.Fatalf("Filebeat started with %v exited with 0:\n%s", args, fb.tail())
	}
	return fb.output()
}

// assertSays fails unless out has every one of want.
func assertSays(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("Filebeat did not say %q:\n%s", w, out)
		}
	}
}

func TestPluginsFolder_IsLoadedWithoutPluginFlag(t *testing.T) {
	dir := t.TempDir()
	home, _ := pluginHome(t, dir, 0o644)
	// Filebeat's default home is its binary's folder, as started.
	binary := filepath.Join(home, "filebeat")
	copyFile(t, filepath.Join(dist, "filebeat"), binary)

	tests := []struct {
		name   string
		binary string
		args   []string
		only   string // the line whose libbeat takes it, if only one does
	}{
		{"home given with --path.home", filepath.Join(dist, "filebeat"), []string{"--path.home", home}, ""},
		{"home given with -E path.home=", filepath.Join(dist, "filebeat"), []string{"-E", "path.home=" + home}, ""},
		{"home the binary's folder", binary, nil, ""},
		{"home given with -path.home", filepath.Join(dist, "filebeat"), []string{"-path.home", home}, "7.17"}, // 9.5's libbeat takes no single-dash long flags
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.only != "" && tt.only != beatsLine() {
				t.Skipf("Filebeat %s's libbeat does not take it", beatsLine())
			}
			log := shipLinesArgs(t, filepath.Join(dir, "run", fmt.Sprint(i)), tt.binary, 100, tt.args...)
			assertSays(t, log, "websocket output ")
		})
	}
}

func TestPluginsFolder_APluginAlsoGivenWithPluginIsLoadedOnce(t *testing.T) {
	dir := t.TempDir()
	home, installed := pluginHome(t, dir, 0o644)
	link := filepath.Join(dir, "link.so")
	if err := os.Symlink(installed, link); err != nil {
		t.Fatal(err)
	}
	// Loaded twice, Filebeat would exit: output type websocket already
	// registered.
	log := shipLinesArgs(t, filepath.Join(dir, "run"), filepath.Join(dist, "filebeat"), 100,
		"--plugin", link, "--plugin", filepath.Join(home, "plugins", "..", "plugins", "websocket.so"), "--path.home", home)
	if n := strings.Count(log, "websocket output "); n != 1 {
		t.Errorf("the plugin's start-up line is in the log %d times, want once:\n%s", n, log)
	}
}

func TestPluginsFolder_APluginOthersMayWriteIsRefusedUnlessStrictPermsIsOff(t *testing.T) {
	dir := t.TempDir()
	home, installed := pluginHome(t, dir, 0o664)

	out := filebeatFails(t, filepath.Join(dir, "strict"), "--path.home", home)
	assertSays(t, out, "Exiting: refusing the plugin "+installed, `permissions are "-rw-rw-r--"`,
		"'chmod go-w "+installed+"'", "--strict.perms=false")

	shipLinesArgs(t, filepath.Join(dir, "lax"), filepath.Join(dist, "filebeat"), 100, "--path.home", home, "--strict.perms=false")
}

func TestPluginsFolder_APluginOfAnotherUserIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user takes root")
	}
	dir := t.TempDir()
	home, installed := pluginHome(t, dir, 0o644)
	if err := os.Chown(installed, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	out := filebeatFails(t, filepath.Join(dir, "run"), "--path.home", home)
	assertSays(t, out, "Exiting: refusing the plugin "+installed, "must be owned by the user identifier (uid=0) or root")
}

func TestPluginsFolder_WithoutThePluginOutputWebsocketSaysHowToLoadIt(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	out := filebeatFails(t, filepath.Join(dir, "run"), "--path.home", home)
	assertSays(t, out, "output type websocket undefined", "install websocket.so in "+filepath.Join(home, "plugins"),
		"--plugin /path/to/websocket.so")
}

func TestPluginFlag_AFileThatIsNotThereSaysWhatToGive(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	missing := filepath.Join(dir, "nosuch.so")
	out := filebeatFails(t, filepath.Join(dir, "run"), "--plugin", missing, "--path.home", home)
	assertSays(t, out, "realpath failed: there is no file "+missing, "--plugin takes the path of a plugin file",
		"install the plugin in "+filepath.Join(home, "plugins"))
}

func TestPluginsFolder_ACopyOfAPluginGivenWithPluginSaysToGiveItOnce(t *testing.T) {
	dir := t.TempDir()
	home, installed := pluginHome(t, dir, 0o644)
	out := filebeatFails(t, filepath.Join(dir, "run"), "--plugin", filepath.Join(dist, "websocket.so"), "--path.home", home)
	assertSays(t, out, "plugin already loaded: "+installed+" is another copy of the plugin loaded from "+filepath.Join(dist, "websocket.so"),
		"give each plugin once")
}
