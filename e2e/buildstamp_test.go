package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The build stamp: build.sh stamps the host Filebeat with the commit it is
// built from and the commit's time, which `filebeat version` and the
// "Build info" log line show; the plugin still loads, and two builds of
// one checkout are byte-identical.

// stamp is what a build of a checkout is stamped with.
type stamp struct {
	commit string
	time   time.Time // zero: unknown
}

// stampOf is what build.sh stamps a build of the checkout in dir with:
// HEAD, with -dirty if the checkout differs from it (a tracked file
// changed, or a file git neither tracks nor ignores), and its time (or
// SOURCE_DATE_EPOCH's); outside git, a commit that says so and no time.
func stampOf(t *testing.T, dir string) stamp {
	t.Helper()
	var s stamp
	if top, status := runIn(t, dir, nil, "git", "rev-parse", "--show-toplevel"); status != 0 || !sameDir(strings.TrimSpace(top), dir) {
		s.commit = "unknown (built outside git)"
	} else {
		head, _ := runIn(t, dir, nil, "git", "rev-parse", "HEAD")
		s.commit = strings.TrimSpace(head)
		if changed, _ := runIn(t, dir, nil, "git", "status", "--porcelain", "--untracked-files=normal"); strings.TrimSpace(changed) != "" {
			s.commit += "-dirty"
		}
		epoch, _ := runIn(t, dir, nil, "git", "log", "-1", "--format=%ct")
		s.time = unixTime(t, strings.TrimSpace(epoch))
	}
	if epoch := os.Getenv("SOURCE_DATE_EPOCH"); epoch != "" {
		s.time = unixTime(t, epoch)
	}
	return s
}

func sameDir(a, b string) bool {
	ai, errA := os.Stat(a)
	bi, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(ai, bi)
}

func unixTime(t *testing.T, s string) time.Time {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("not a Unix time: %q", s)
	}
	return time.Unix(n, 0).UTC()
}

// versionSays is what `filebeat version` says of s, as libbeat prints it:
// "[<commit> built <time>]".
func (s stamp) versionSays() string {
	built := "unknown"
	if !s.time.IsZero() {
		built = s.time.String()
	}
	return fmt.Sprintf("[%s built %s]", s.commit, built)
}

// assertVersionSays fails unless `binary version` shows s.
func assertVersionSays(t *testing.T, binary string, s stamp) {
	t.Helper()
	out, status := runIn(t, "/", nil, binary, "version")
	if want := s.versionSays(); status != 0 || !strings.Contains(out, want) {
		t.Errorf("%s version exited %d, want %q in:\n%s", binary, status, want, out)
	}
}

// buildInfo is the "Build info" line of a Filebeat log: in 7.17's console
// format, its fields as JSON after the message; in 9.x's, the line is JSON.
func buildInfo(t *testing.T, log string) (commit string, built time.Time) {
	t.Helper()
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "Build info") {
			continue
		}
		var fields struct {
			SystemInfo struct {
				Build struct {
					Commit string
					Time   time.Time
				}
			} `json:"system_info"`
		}
		if err := json.Unmarshal([]byte(l[strings.Index(l, "{"):]), &fields); err != nil {
			t.Fatalf("the Build info line is not as expected (%v): %s", err, l)
		}
		return fields.SystemInfo.Build.Commit, fields.SystemInfo.Build.Time
	}
	t.Fatalf("Filebeat logged no Build info:\n%s", log)
	return "", time.Time{}
}

func TestBuildStamp_FilebeatVersionAndItsLogNameTheCommitAndItsTime(t *testing.T) {
	want := stampOf(t, root)
	assertVersionSays(t, filepath.Join(dist, "filebeat"), want)

	// The stamped Filebeat loads the plugin and ships (the plugin's check
	// and the hot swap test load it too).
	log := shipLines(t, t.TempDir(), filepath.Join(dist, "filebeat"), filepath.Join(dist, "websocket.so"), 100)
	if commit, built := buildInfo(t, log); commit != want.commit || !built.Equal(want.time) {
		t.Errorf("Build info logs commit %q and time %v, want %q and %v", commit, built, want.commit, want.time)
	}
}

// checkoutCopy makes dst a git checkout of this one's HEAD with this
// one's files, changes included: a build there is stamped as dist/'s.
func checkoutCopy(t *testing.T, dst string) {
	t.Helper()
	mustRun(t, "/", nil, "git", "clone", "--quiet", "--no-checkout", "--no-hardlinks", root, dst)
	copyTree(t, root, dst, "dist", ".git", ".bench")
	mustRun(t, dst, nil, "git", "reset", "--quiet") // the index at HEAD, the files as copied
}

func TestBuildStamp_ReproducibleDirtyMarkedAndOutsideGitSaidSo(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "checkout")
	checkoutCopy(t, src)
	version := []string{"PLUGIN_VERSION=" + strings.TrimSpace(readFile(t, filepath.Join(dist, "websocket.so.version")))}
	build := func(src, parent string) string {
		t.Helper()
		mustRun(t, src, append(version, "DIST="+parent), "./build.sh")
		return lineDist(parent)
	}

	t.Run("a build in another checkout of the same tree is byte-identical to dist/'s", func(t *testing.T) {
		other := build(src, filepath.Join(dir, "dist"))
		for _, name := range []string{"filebeat", "websocket.so"} {
			if a, b := sha256File(t, filepath.Join(dist, name)), sha256File(t, filepath.Join(other, name)); a != b {
				t.Errorf("%s: sha256 %s in %s, %s in %s", name, a, dist, b, other)
			} else {
				t.Logf("%s: sha256 %s in both builds", name, a)
			}
		}
		assertVersionSays(t, filepath.Join(other, "filebeat"), stampOf(t, root))
	})

	t.Run("a change to a tracked file marks the commit -dirty", func(t *testing.T) {
		readme := filepath.Join(src, "README.md")
		if err := os.WriteFile(readme, []byte(readFile(t, readme)+"\nchanged\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		want := stampOf(t, src)
		if !strings.HasSuffix(want.commit, "-dirty") {
			t.Fatalf("git says the changed checkout is clean: %+v", want)
		}
		assertVersionSays(t, filepath.Join(build(src, filepath.Join(dir, "dirty")), "filebeat"), want)
	})

	t.Run("a new file git does not track marks the commit -dirty", func(t *testing.T) {
		// The tree as it is, committed: clean but for the new file.
		mustRun(t, src, nil, "git", "add", "-A")
		mustRun(t, src, nil, "git", "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "--quiet", "--allow-empty", "-m", "the tree as copied")
		if err := os.WriteFile(filepath.Join(src, "wsclient", "untracked.go"), []byte("package wsclient\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		want := stampOf(t, src)
		if !strings.HasSuffix(want.commit, "-dirty") {
			t.Fatalf("git says the checkout with a new file is clean: %+v", want)
		}
		assertVersionSays(t, filepath.Join(build(src, filepath.Join(dir, "untracked")), "filebeat"), want)
	})

	t.Run("a build outside git says so, and has no time", func(t *testing.T) {
		outside := filepath.Join(dir, "outside")
		copyTree(t, root, outside, "dist", ".git", ".bench")
		mustRun(t, outside, append(version, "DIST="+filepath.Join(dir, "outside-dist"), "SOURCE_DATE_EPOCH="), "./build.sh")
		assertVersionSays(t, filepath.Join(lineDist(filepath.Join(dir, "outside-dist")), "filebeat"), stamp{commit: "unknown (built outside git)"})
	})
}
