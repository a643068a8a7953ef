package main

import (
	"crypto/sha512"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestMakePackage_RefusesAVariableThatIsNotSet(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "test.nfpm.yaml")
	err := os.WriteFile(config, []byte("name: test\nversion: 1.0.0\narch: amd64\ndepends: [\"${TEST_UNSET_DEPENDENCY}\"]\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	os.Unsetenv("TEST_UNSET_DEPENDENCY")
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = makePackage(config, "deb", out, nil)
	if err == nil || !strings.Contains(err.Error(), "environment variables that are not set: TEST_UNSET_DEPENDENCY") {
		t.Fatalf("makePackage: %v, want an error naming TEST_UNSET_DEPENDENCY", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) > 0 {
		t.Errorf("a refused configuration left %s in the target", entries[0].Name())
	}
}

func TestMakePackage_WritesTheSHA512AsElasticsDownloads(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "test.nfpm.yaml")
	err := os.WriteFile(config, []byte("name: test\nversion: ${TEST_VERSION}\narch: amd64\n"+
		"contents:\n  - src: hello\n    dst: /usr/share/test/hello\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_VERSION", "1.2.3")
	for _, format := range []string{"deb", "rpm"} {
		t.Run(format, func(t *testing.T) {
			path, err := makePackage(config, format, dir, nil) // sources relative to the configuration
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(filepath.Base(path), "1.2.3") {
				t.Errorf("package %s does not carry the version from the environment", path)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha512.Sum512(b)
			want := hex.EncodeToString(sum[:]) + "  " + filepath.Base(path)
			if got := readFile(t, path+".sha512"); got != want {
				t.Errorf("%s.sha512 = %q, want %q", path, got, want)
			}
			if _, err := exec.LookPath("sha512sum"); err == nil {
				cmd := exec.Command("sha512sum", "-c", filepath.Base(path)+".sha512")
				cmd.Dir = dir
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("sha512sum -c: %v\n%s", err, out)
				}
			}
		})
	}
}

func TestMakePackage_ConflictsWithTheOtherLineAndAsADebReplacesIt(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("no dpkg-deb to read the deb with")
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "test.nfpm.yaml")
	err := os.WriteFile(config, []byte("name: test-9.5\nversion: 9.5.0\narch: amd64\nconflicts: [filebeat]\n"+
		"overrides:\n  deb:\n    replaces: [filebeat]\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	path, err := makePackage(config, "deb", dir, splitList("test, ,"))
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{"Conflicts": "filebeat, test", "Replaces": "filebeat, test"} {
		out, err := exec.Command("dpkg-deb", "-f", path, field).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("%s: %q, want %q", field, got, want)
		}
	}
}
