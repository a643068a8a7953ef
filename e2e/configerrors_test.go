package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beats-websocket/websocket-output/testbed"
)

// What an operator sees of the output's configuration, without -e: the
// error Filebeat exits with, and the warnings of `filebeat test config`.

// runFilebeat runs dist/filebeat with args, the plugin and a configuration
// of one input and output as output.websocket, its files under a new
// folder, in an environment without the variables unset names. It returns
// what Filebeat printed on stdout and on stderr, and its exit status.
func runFilebeat(t *testing.T, output string, unset []string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "filebeat.yml")
	yaml := inputFor(filepath.Join(dir, "app.log")) + "\noutput.websocket:\n" + testbed.Indent(output) + "\n"
	if err := os.WriteFile(cfg, []byte("filebeat.inputs:\n"+yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args = append(args, "--plugin", filepath.Join(dist, "websocket.so"), "-c", cfg, "--strict.perms=false",
		"--path.home", dir, "--path.data", filepath.Join(dir, "data"), "--path.logs", filepath.Join(dir, "logs"))
	cmd := exec.CommandContext(ctx, filepath.Join(dist, "filebeat"), args...)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !contains(unset, name) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("filebeat %s did not finish within 2 minutes; it printed:\n%s%s", strings.Join(args[:1], " "), out.String(), errOut.String())
	case errors.As(err, &exit):
		status = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	t.Logf("filebeat %v exited %d; stdout:\n%s\nstderr:\n%s", args, status, out.String(), errOut.String())
	return out.String(), errOut.String(), status
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func TestConfigErrors_FilebeatExitsWithTheKeyTheSuggestionOrTheUnsetVariable(t *testing.T) {
	const hosts = "hosts: ['ws://127.0.0.1:9/in']\n"
	for _, tc := range []struct{ output, want string }{
		{hosts + "compresion: true",
			"output.websocket.compresion: not a setting of this output, did you mean compression?"},
		{hosts + "ssl.certificate_authoritie: [/etc/ca.pem]",
			"output.websocket.ssl.certificate_authoritie: not a setting of this output, did you mean ssl.certificate_authorities?"},
		{hosts + "backoff.int: 1s",
			"output.websocket.backoff.int: not a setting of this output, did you mean backoff.init?"},
		{hosts + "headers.Authorization: \"Bearer ${WS_TOKEN}\"",
			"output.websocket.headers.Authorization: the value refers to ${WS_TOKEN}, a variable set neither in the environment nor in the keystore"},
	} {
		t.Run(tc.output, func(t *testing.T) {
			t.Parallel() // each waits for a Filebeat to start and exit
			// As an operator starts it, without -e: the error is all it prints.
			_, stderr, status := runFilebeat(t, tc.output, []string{"WS_TOKEN"})
			if want := "Exiting: error initializing publisher: " + tc.want + "\n"; status != 1 || stderr != want {
				t.Fatalf("Filebeat exited %d printing\n%s\nwant exit 1 and\n%s", status, stderr, want)
			}
		})
	}
}

func TestTestConfig_ShowsTheOutputsStartUpWarnings(t *testing.T) {
	for _, tc := range []struct {
		name, output string
		warnings     []string
	}{
		{"a token over ws:// to another host",
			"hosts: ['ws://logs.example.com:9/in']\nheaders.Authorization: Bearer t0k3n",
			[]string{"WARN output.websocket: headers and credentials go unencrypted to ws://logs.example.com:9/in: use wss:// to protect them"}},
		{"verification_mode none",
			"hosts: ['wss://127.0.0.1:9/in']\nssl.verification_mode: none",
			[]string{"WARN output.websocket: ssl.verification_mode: none: the server's certificate is not checked, so anyone on the path can read and alter the events; use it only for tests"}},
		{"both",
			"hosts: ['wss://127.0.0.1:9/in']\nssl.verification_mode: none\nusername: alice\npassword: s3cret",
			[]string{"WARN output.websocket: ssl.verification_mode: none: the server's certificate is not checked, so anyone on the path can read and alter the events; use it only for tests"}},
		{"nothing risky",
			"hosts: ['ws://127.0.0.1:9/in']\nheaders.Authorization: Bearer t0k3n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Without -e, as an operator runs it: libbeat logs to the log
			// file only, so the output prints its warnings itself.
			stdout, stderr, status := runFilebeat(t, tc.output, nil, "test", "config")
			if status != 0 || stdout != "Config OK\n" {
				t.Fatalf("filebeat test config exited %d printing %q, want 0 and \"Config OK\"", status, stdout)
			}
			var want string
			for _, w := range tc.warnings {
				want += w + "\n"
			}
			if stderr != want {
				t.Fatalf("filebeat test config printed on stderr\n%s\nwant\n%s", stderr, want)
			}
			if strings.Contains(stderr, "t0k3n") || strings.Contains(stderr, "s3cret") {
				t.Fatalf("filebeat test config printed a credential:\n%s", stderr)
			}
		})
	}
}

// A normal run logs the warnings through the logger, once, and prints
// nothing of its own.
func TestTestConfig_NormalRunLogsTheWarningsOnceThroughTheLogger(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	writeLog(t, log, 0, 100) // more than the 1 KiB Filebeat 9.5's filestream needs to start reading
	const warning = "ssl.verification_mode: none: the server's certificate is not checked"
	// Nothing listens on port 9: the connect fails after the output is
	// built, which is when the warnings are logged.
	fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), inputFor(log),
		"hosts: ['wss://127.0.0.1:9/in']\nssl.verification_mode: none\nbackoff.init: 100ms\nbackoff.max: 200ms")
	waitFor(t, time.Minute, "a failed connect after the warning", func() bool {
		out := fb.output()
		i := strings.Index(out, warning)
		return i >= 0 && strings.Contains(out[i:], "127.0.0.1:9")
	})
	fb.stop(t)
	out := fb.output()
	if n := strings.Count(out, warning); n != 1 {
		t.Fatalf("Filebeat logged the warning %d times, want once:\n%s", n, fb.tail())
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, warning) && (!strings.Contains(strings.ToLower(l), "warn") || strings.Contains(l, "WARN output.websocket:")) {
			t.Fatalf("the warning is not a WARN line of the logger: %s", l)
		}
	}
}
