package plugindir

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writePlugin writes a file standing for a plugin (plan reads no content)
// at path with mode perm.
func writePlugin(t *testing.T, path string, perm os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("plugin"), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

func TestPlan_GivenFirstThenTheFoldersSoFilesByName(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, Folder)
	b := writePlugin(t, filepath.Join(dir, "b.so"), 0o644)
	a := writePlugin(t, filepath.Join(dir, "a.so"), 0o644)
	writePlugin(t, filepath.Join(dir, "plugincheck"), 0o755) // the plugin package's tool: no plugin
	if err := os.Mkdir(filepath.Join(dir, "dir.so"), 0o755); err != nil {
		t.Fatal(err)
	}
	other := writePlugin(t, filepath.Join(home, "elsewhere", "other.so"), 0o666) // given: not checked

	got, err := plan([]string{other}, dir, true)
	if want := []string{other, a, b}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("plan: %q, %v; want %q", got, err, want)
	}
}

func TestPlan_APluginGivenAgainUnderAnotherPathIsLoadedOnce(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, Folder)
	installed := writePlugin(t, filepath.Join(dir, "websocket.so"), 0o644)
	link := filepath.Join(home, "link.so")
	if err := os.Symlink(installed, link); err != nil {
		t.Fatal(err)
	}
	t.Chdir(home)

	got, err := plan([]string{link, "plugins/../plugins/websocket.so", installed}, dir, true)
	if want := []string{link}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("plan: %q, %v; want only the first of the four names of one file, %q", got, err, want)
	}
}

// A hard link is one file under two names too: Go's loader would open it
// twice and fail with "plugin already loaded".
func TestPlan_APluginGivenAgainAsAHardLinkIsLoadedOnce(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, Folder)
	installed := writePlugin(t, filepath.Join(dir, "websocket.so"), 0o644)
	hard := filepath.Join(home, "websocket.so")
	if err := os.Link(installed, hard); err != nil {
		t.Fatal(err)
	}
	got, err := plan([]string{hard}, dir, true)
	if want := []string{hard}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("plan: %q, %v; want the file once, %q", got, err, want)
	}
}

func TestPlan_AFolderThatDoesNotExistHasNoPlugins(t *testing.T) {
	got, err := plan([]string{"given.so"}, filepath.Join(t.TempDir(), Folder), true)
	if want := []string{"given.so"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("plan: %q, %v; want %q", got, err, want)
	}
}

func TestPlan_StrictPermsRefusesAPluginOthersMayWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), Folder)
	path := writePlugin(t, filepath.Join(dir, "websocket.so"), 0o664)

	_, err := plan(nil, dir, true)
	for _, want := range []string{"refusing the plugin " + path, `permissions are "-rw-rw-r--"`, "chmod go-w " + path, "--strict.perms=false"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("plan: %v; want an error saying %q", err, want)
		}
	}
	if got, err := plan(nil, dir, false); err != nil || !slices.Equal(got, []string{path}) {
		t.Fatalf("plan without strict perms: %q, %v; want the plugin", got, err)
	}
}

func TestPlan_StrictPermsRefusesAPluginOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user takes root")
	}
	dir := filepath.Join(t.TempDir(), Folder)
	path := writePlugin(t, filepath.Join(dir, "websocket.so"), 0o644)
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err := plan(nil, dir, true)
	if want := "must be owned by the user identifier (uid=0) or root"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("plan: %v; want an error saying %q", err, want)
	}
}

func TestExplain_SaysWhatToDo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), Folder)
	loaded := writePlugin(t, filepath.Join(dir, "websocket.so"), 0o644)
	missing := filepath.Join(t.TempDir(), "nosuch.so")
	copied := writePlugin(t, filepath.Join(t.TempDir(), "websocket.so"), 0o644)
	tests := []struct {
		name, path string
		err        error
		want       []string
	}{
		{"no such file", missing, errors.New(`plugin.Open("` + missing + `"): realpath failed`),
			[]string{"realpath failed: there is no file " + missing, "--plugin takes the path of a plugin file", "or install the plugin in " + dir}},
		{"a copy of a loaded plugin", copied, errors.New(`plugin.Open("` + copied + `"): plugin already loaded`),
			[]string{"plugin already loaded: " + copied + " is another copy of the plugin loaded from " + loaded, "give each plugin once"}},
		{"anything else", loaded, errors.New("plugin was built with a different version of package x"),
			[]string{"plugin was built with a different version of package x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := explain(tt.err, tt.path, []string{loaded}, dir)
			if !errors.Is(got, tt.err) {
				t.Errorf("%v does not wrap Go's error", got)
			}
			for _, want := range tt.want {
				if !strings.Contains(got.Error(), want) {
					t.Errorf("%v\ndoes not say %q", got, want)
				}
			}
		})
	}
}
