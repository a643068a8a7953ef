package e2e

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The example servers of examples/servers, which server authors copy: the
// real Filebeat loses nothing to them while they are SIGKILLed, and ackcheck
// passes them.

// pythonExample starts examples/servers/python with Debian's python3 and
// its python3-websockets (the python3 first on PATH may be another).
func pythonExample(t *testing.T, dir, addr, out string, acks bool) *server {
	t.Helper()
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import websockets").Run(); err != nil {
		t.Fatalf("%s cannot import websockets (%v); the example server needs Debian's python3-websockets: apt-get install python3-websockets (.ci/run and ./build.sh test as root install it)", python, err)
	}
	return startExample(t, dir, addr, out, acks, python, filepath.Join(root, "examples/servers/python/server.py"))
}

// nodeExample starts examples/servers/node with node and the ws package
// that npm ci installs from its package-lock.json.
func nodeExample(t *testing.T, dir, addr, out string, acks bool) *server {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed; the example server needs Node.js 18 or later")
	}
	example := filepath.Join(root, "examples/servers/node")
	if !fileExists(filepath.Join(example, "node_modules/ws/package.json")) {
		t.Fatalf("%s has no node_modules/ws: run npm ci there (.ci/run and ./build.sh test do)", example)
	}
	return startExample(t, dir, addr, out, acks, node, filepath.Join(example, "server.js"))
}

// listening is the line an example server logs once it listens, with the
// address.
var listening = regexp.MustCompile(`listening on wss?://(127\.0\.0\.1:\d+)/`)

// startExample starts an example server and waits for the line that says
// where it listens. The examples always acknowledge when the client offers
// beats-ack.v1, so acks is what Filebeat asks for.
func startExample(t *testing.T, dir, addr, out string, acks bool, interpreter, script string) *server {
	t.Helper()
	if !acks {
		t.Fatal("the example servers are tested with acks: they acknowledge whenever the client asks")
	}
	logPath := filepath.Join(dir, fmt.Sprintf("%s-%d.log", filepath.Base(filepath.Dir(script)), receivers.Add(1)))
	p := start(t, logPath, interpreter, script, addr, out)
	s := &server{process: p}
	waitFor(t, 30*time.Second, filepath.Base(script)+" to listen", func() bool {
		if !p.running() {
			t.Fatalf("%s exited: %v; its log:\n%s", script, p.err, p.tail())
		}
		m := listening.FindAllStringSubmatch(p.output(), -1)
		if len(m) == 0 {
			return false
		}
		s.addr = m[len(m)-1][1]
		return true
	})
	return s
}

// exampleKills is the kill test's scenario for an example server: killed
// three times, Filebeat once; an example cannot crash by itself.
func exampleKills(start serverStarter, frame string) killScenario {
	return killScenario{start: start, kills: 3, filebeatKills: 1, acks: true, output: "frame: " + frame}
}

func TestKill_ExampleServersLoseNothing(t *testing.T) {
	for _, example := range []struct {
		name  string
		start serverStarter
	}{
		{"python", pythonExample},
		{"node", nodeExample},
	} {
		for _, frame := range []string{"event", "batch"} {
			t.Run(example.name+"/frame="+frame, func(t *testing.T) {
				r := killTest(t, exampleKills(example.start, frame))
				r.everyLineAtLeastOnce(t)
				t.Logf("%s example, frame: %s: %s", example.name, frame, r)
			})
		}
	}
}

// ackcheck passes the reference receiver with -ack and both examples, and
// fails the reference receiver without -ack, which does not select the
// subprotocol.
func TestAckcheck_PassesTheReferenceReceiverAndTheExamples(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start serverStarter
	}{
		{"wsreceiver -ack", receiverStarter()},
		{"python example", pythonExample},
		{"node example", nodeExample},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			srv := tc.start(t, dir, "127.0.0.1:0", filepath.Join(dir, "received.log"), true)
			out, code := ackcheck(t, "ws://"+srv.addr+"/echo")
			if code != 0 || !strings.Contains(out, "ackcheck: all 11 checks passed") {
				t.Fatalf("ackcheck exited with %d, want 0 and every check passed:\n%s", code, out)
			}
			t.Logf("ackcheck:\n%s", out)
			srv.stop(t)
		})
	}
}

func TestAckcheck_FailsAReceiverWithoutAcks(t *testing.T) {
	dir := t.TempDir()
	srv := receiverStarter()(t, dir, "127.0.0.1:0", filepath.Join(dir, "received.log"), false)
	out, code := ackcheck(t, "ws://"+srv.addr+"/echo")
	if code != 1 || !strings.Contains(out, `FAIL  subprotocol selected: the server answered without selecting beats-ack.v1 (Sec-WebSocket-Protocol: "")`) {
		t.Fatalf("ackcheck exited with %d, want 1 and the subprotocol not selected:\n%s", code, out)
	}
	t.Logf("ackcheck:\n%s", out)
	srv.stop(t)
}

// ackcheck runs dist/ackcheck, at most a minute, and returns its output
// and exit status.
func ackcheck(t *testing.T, args ...string) (string, int) {
	t.Helper()
	dir := t.TempDir()
	p := start(t, filepath.Join(dir, "ackcheck.out"), filepath.Join(dist, "ackcheck"), args...)
	err := p.wait(t, time.Minute)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return p.output(), 0
	case errors.As(err, &exit):
		return p.output(), exit.ExitCode()
	default:
		t.Fatalf("ackcheck: %v", err)
		return "", 0
	}
}
