package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	receiverpkg "github.com/beats-websocket/websocket-output/receiver"

	"github.com/beats-websocket/websocket-output/testbed"
)

// `filebeat test output`, as an operator runs it: the real Filebeat with
// the real plugin, its configuration in a file, against real servers. It
// prints a checklist for each host and exits 1 when a check fails.

// testOutput runs `filebeat test output` with output as output.websocket
// (env for its ${VARS}), its files under a new folder. It returns what the
// command printed, its exit status, and everything Filebeat logged.
func testOutput(t *testing.T, output string, env ...string) (printed string, status int, logged string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "filebeat.yml")
	if err := os.WriteFile(cfg, []byte("output.websocket:\n"+testbed.Indent(output)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Generous for a loaded machine: the command itself takes about a second.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dist, "filebeat"), "test", "output",
		"--plugin", filepath.Join(dist, "websocket.so"), "-c", cfg, "--strict.perms=false",
		"--path.home", dir, "--path.data", filepath.Join(dir, "data"), "--path.logs", filepath.Join(dir, "logs"))
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("filebeat test output did not finish within 2 minutes; it printed:\n%s", out)
	case errors.As(err, &exit):
		status = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		logged += string(b)
	}
	t.Logf("filebeat test output exited %d:\n%s", status, out)
	return string(out), status, logged
}

// checklist checks that out has lines that start, after their indent,
// with each of want, in that order (other lines may come between).
func checklist(t *testing.T, out string, want ...string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	i := 0
	for _, w := range want {
		for i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), w) {
			i++
		}
		if i == len(lines) {
			t.Fatalf("filebeat test output printed no line %q (after the ones before it):\n%s", w, out)
		}
		i++
	}
}

// exits checks the command's exit status.
func exits(t *testing.T, status, want int, out string) {
	t.Helper()
	if status != want {
		t.Fatalf("filebeat test output exited %d, want %d:\n%s", status, want, out)
	}
}

// noSecret checks that none of secrets was printed or logged.
func noSecret(t *testing.T, printed, logged string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(printed, s) {
			t.Fatalf("filebeat test output printed the secret %q:\n%s", s, printed)
		}
		if strings.Contains(logged, s) {
			t.Fatalf("Filebeat logged the secret %q", s)
		}
	}
}

// tested waits until the receiver has seen every connection the test made
// end, and checks that there was exactly one: the command has exited, so
// none can follow.
func tested(t *testing.T, r *receiver) receiverpkg.Stats {
	t.Helper()
	var s receiverpkg.Stats
	waitFor(t, 30*time.Second, "the test's connection to end at the receiver", func() bool {
		s = r.stats(t)
		return s.Connections > 0 && s.Active == 0
	})
	if s.Connections != 1 {
		t.Fatalf("the receiver at %s got %d connections, want the test's one", r.addr, s.Connections)
	}
	return s
}

func TestTestOutput_WorkingReceiversPassEveryCheckEachTestedOnce(t *testing.T) {
	const token = "tok-6c2f90e1-test-output"
	for _, loadbalance := range []bool{true, false} {
		t.Run(fmt.Sprint("loadbalance=", loadbalance), func(t *testing.T) {
			dir := t.TempDir()
			var recvs []*receiver
			var hosts []string
			for i := 0; i < 2; i++ {
				r := startReceiver(t, dir, "127.0.0.1:0", filepath.Join(dir, fmt.Sprintf("received-%d.log", i)),
					"-ack", "-compression", "-token", token)
				recvs = append(recvs, r)
				hosts = append(hosts, fmt.Sprintf("%q", "ws://"+r.addr+"/echo"))
			}
			printed, status, logged := testOutput(t, fmt.Sprintf(`hosts: [%s]
loadbalance: %v
workers: 3
ack.enabled: true
compression: true
headers.Authorization: "Bearer ${WS_TOKEN}"
`, strings.Join(hosts, ", "), loadbalance), "WS_TOKEN="+token)
			exits(t, status, 0, printed)
			for _, r := range recvs {
				checklist(t, printed,
					"websocket: ws://"+r.addr+"/echo...",
					"parse url... OK",
					"connection...",
					"dns lookup... OK",
					"addresses: 127.0.0.1",
					"dial up... OK",
					"TLS... WARN secure connection disabled",
					"WebSocket...",
					"handshake... OK",
					"HTTP status: 101 Switching Protocols",
					"subprotocol beats-ack.v1... OK",
					"compression... OK",
					"ping... OK",
					"round trip: ",
				)
				if s := tested(t, r); s.Compressed != 1 || s.Refused != 0 {
					t.Fatalf("the receiver at %s: %d compressed, %d refused connections, want 1 and 0", r.addr, s.Compressed, s.Refused)
				}
			}
			noSecret(t, printed, logged, token)
		})
	}
}

func TestTestOutput_WSSThroughNginxWithAndWithoutTheCA(t *testing.T) {
	dir := t.TempDir()
	p := newPKI(t, dir)
	recv := startReceiver(t, dir, "127.0.0.1:0", filepath.Join(dir, "received.log"))
	ng := startNginx(t, dir, recv.addr, p, false)
	url := "wss://" + ng.addr + "/echo"

	t.Run("with the CA", func(t *testing.T) {
		printed, status, _ := testOutput(t, wssOutput(url, fmt.Sprintf("ssl.certificate_authorities: [%q]", p.ca)))
		exits(t, status, 0, printed)
		checklist(t, printed,
			"websocket: "+url+"...",
			"dial up... OK",
			"TLS...",
			"verification mode: full",
			"handshake... OK",
			"TLS version: TLSv1.",
			"server certificate: CN=wsreceiver",
			"issuer: CN=e2e test CA",
			"expires: ",
			"WebSocket...",
			"handshake... OK",
			"HTTP status: 101 Switching Protocols",
			"ping... OK",
		)
	})
	t.Run("without the CA", func(t *testing.T) {
		printed, status, _ := testOutput(t, wssOutput(url, ""))
		exits(t, status, 1, printed)
		checklist(t, printed,
			"TLS...",
			"handshake... ERROR x509: certificate signed by unknown authority (set ssl.certificate_authorities",
			"server certificate: CN=wsreceiver",
			"issuer: CN=e2e test CA",
			"websocket output... ERROR "+url+" failed",
		)
	})
	t.Run("verification_mode none", func(t *testing.T) {
		printed, status, _ := testOutput(t, wssOutput(url, "ssl.verification_mode: none"))
		exits(t, status, 0, printed)
		checklist(t, printed, "verification mode... WARN none: the server's certificate is not checked", "handshake... OK", "ping... OK")
	})
}

func TestTestOutput_WrongTokenFailsWithTheStatusAndNoToken(t *testing.T) {
	const right, wrong = "tok-0d4b7a19-right", "tok-93e5c2f8-wrong"
	dir := t.TempDir()
	recv := startReceiver(t, dir, "127.0.0.1:0", filepath.Join(dir, "received.log"), "-token", right)
	printed, status, logged := testOutput(t, outputTo(recv, `headers.Authorization: "Bearer ${WS_TOKEN}"`), "WS_TOKEN="+wrong)
	exits(t, status, 1, printed)
	checklist(t, printed,
		"dial up... OK",
		"WebSocket...",
		"handshake... ERROR HTTP 401 Unauthorized (check the credentials: headers, username and password)",
		"websocket output... ERROR ws://"+recv.addr+"/echo failed",
	)
	noSecret(t, printed, logged, right, wrong)
	if s := recv.stats(t); s.Refused != 1 {
		t.Fatalf("the receiver refused %d handshakes, want the test's one", s.Refused)
	}
}

func TestTestOutput_PortWhereNothingListensFailsAtTheDial(t *testing.T) {
	addr := freeAddr(t) // closed again: nothing listens
	printed, status, _ := testOutput(t, fmt.Sprintf("addr: %q", addr))
	exits(t, status, 1, printed)
	checklist(t, printed,
		"websocket: ws://"+addr+"/echo...",
		"dns lookup... OK",
		"dial up... ERROR dial tcp "+addr+": connect: connection refused",
		"websocket output... ERROR ws://"+addr+"/echo failed",
	)
	if strings.Contains(printed, "WebSocket...") {
		t.Fatalf("the test went on after the dial failed:\n%s", printed)
	}
}

func TestTestOutput_ReceiverWithoutAcksFailsWhenAcksAreOn(t *testing.T) {
	dir := t.TempDir()
	recv := startReceiver(t, dir, "127.0.0.1:0", filepath.Join(dir, "received.log")) // no -ack
	printed, status, _ := testOutput(t, outputTo(recv, "ack.enabled: true"))
	exits(t, status, 1, printed)
	checklist(t, printed,
		"handshake... OK",
		"subprotocol beats-ack.v1... ERROR the server did not select it, so it cannot acknowledge and the output would refuse it (set ack.enabled: false",
		"websocket output... ERROR ws://"+recv.addr+"/echo failed",
	)
	tested(t, recv)
}

func TestTestOutput_ThroughTinyproxyNamesItWithoutItsPassword(t *testing.T) {
	const password = "pp-41b7e3d2"
	dir := t.TempDir()
	recv := startReceiver(t, dir, "127.0.0.1:0", filepath.Join(dir, "received.log"))
	proxy := startTinyproxy(t, dir)
	printed, status, logged := testOutput(t, outputTo(recv, fmt.Sprintf("proxy_url: \"http://filebeat:%s@%s\"", password, proxy.addr)))
	exits(t, status, 0, printed)
	checklist(t, printed,
		"connection...",
		"proxy: http://"+proxy.addr,
		"dns lookup of the proxy... OK",
		"dial up through the proxy... OK",
		"ping... OK",
	)
	noSecret(t, printed, logged, password)
	tested(t, recv)
	if n := proxy.connects(recv.addr); n != 1 {
		t.Fatalf("tinyproxy tunnelled %d connections to %s, want the test's one", n, recv.addr)
	}
}
