// Package e2e runs the real dist/filebeat with the real dist/websocket.so
// against the reference receiver (dist/wsreceiver), all on 127.0.0.1.
// TestMain builds dist/ with build.sh first, as a user would. With
// BEATS=9.5 in the environment it builds and tests the 9.5 line's
// dist/9.5/ instead (lines_test.go); with ARCH=arm64 the line's arm64
// build, dist/arm64/, under qemu-user on another machine (arch_test.go).
package e2e

import (
	"bufio"
	"crypto/tls"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	receiverpkg "github.com/beats-websocket/websocket-output/receiver"
	"github.com/beats-websocket/websocket-output/testbed"
)

// dist holds the binaries under test; receiverDist the receiver, which
// runs on this machine's architecture whatever is under test.
var root, dist, receiverDist string

func TestMain(m *testing.M) {
	var err error
	if root, err = filepath.Abs(".."); err != nil {
		panic(err)
	}
	dist = lineDist(filepath.Join(root, "dist"))
	receiverDist = archDist(lineFolder(filepath.Join(root, "dist")), runtime.GOARCH)
	build := exec.Command("./build.sh")
	build.Dir = root
	build.Env = append(os.Environ(), "DIST="+filepath.Join(root, "dist"), "ARCH="+buildArchs())
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: ./build.sh failed:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// waitFor polls cond until it holds; reaching the timeout fails the test.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// process is a started binary whose output goes to a file.
type process struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed when the process has exited
	err    error         // what Wait returned; read after exited
}

func start(t *testing.T, logPath string, name string, args ...string) *process {
	t.Helper()
	return startEnv(t, logPath, nil, name, args...)
}

// startEnv is start with further environment variables ("KEY=value").
func startEnv(t *testing.T, logPath string, env []string, name string, args ...string) *process {
	t.Helper()
	cmd := command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	return startCmd(t, logPath, cmd)
}

// command is exec.Command, except that a program built for another
// architecture than this machine's (ARCH=arm64 on amd64) runs under
// qemu-user, with the C library of the cross toolchain build.sh built it
// with (Debian's qemu-user-static and libc6-dev-arm64-cross). qemu-user
// runs it in its own process: signals reach it as they would natively.
func command(name string, args ...string) *exec.Cmd {
	if emulator := emulatorFor(name); emulator != nil {
		return exec.Command(emulator[0], append(append(emulator[1:], name), args...)...)
	}
	return exec.Command(name, args...)
}

// emulatorFor is the command line that runs the program at path, when it
// is an ELF binary for another architecture than this machine's; nil
// otherwise, and for a program named without a path (one of the system's).
func emulatorFor(path string) []string {
	if !strings.Contains(path, "/") {
		return nil
	}
	f, err := elf.Open(path)
	if err != nil {
		return nil // a script, or missing: exec reports that
	}
	defer f.Close()
	switch {
	case f.Machine == elf.EM_AARCH64 && runtime.GOARCH != "arm64":
		return []string{"qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu"}
	case f.Machine == elf.EM_X86_64 && runtime.GOARCH != "amd64":
		return []string{"qemu-x86_64-static", "-L", "/usr/x86_64-linux-gnu"}
	}
	return nil
}

// startCmd starts cmd with its output appended to logPath; the test's
// cleanup kills it if it still runs.
func startCmd(t *testing.T, logPath string, cmd *exec.Cmd) *process {
	t.Helper()
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	p := &process{cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if p.running() {
			cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits, at most 30s, for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	name := filepath.Base(p.cmd.Path)
	if !p.running() {
		t.Fatalf("%s had exited before it was stopped (%v); its log:\n%s", name, p.err, p.tail())
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal %s: %v", name, err)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("%s exited with %v; its log:\n%s", name, p.err, p.tail())
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("%s did not stop within 30s of SIGTERM", name)
	}
}

// kill sends SIGKILL, as a crash would end the process, and waits for it.
func (p *process) kill(t *testing.T) {
	t.Helper()
	if !p.running() {
		t.Fatalf("%s had exited before it was killed (%v); its log:\n%s", filepath.Base(p.cmd.Path), p.err, p.tail())
	}
	p.cmd.Process.Kill()
	<-p.exited
}

// wait waits, at most timeout, for the process to exit by itself.
func (p *process) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("%s still running after %v; its log:\n%s", filepath.Base(p.cmd.Path), timeout, p.tail())
		return nil
	}
}

func (p *process) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

func (p *process) tail() string {
	s := p.output()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return s
}

// receiver is dist/wsreceiver writing what it gets to out.
type receiver struct {
	*process
	addr, out string
	tls       *tls.Config // for GET /stats when it serves TLS; nil: plain HTTP
}

// receivers numbers the receivers started, for their log and address files.
var receivers atomic.Int64

// startReceiver listens on addr ("127.0.0.1:0" picks a port) and appends
// the messages to out; flags are further wsreceiver flags, such as -ack.
func startReceiver(t *testing.T, dir, addr, out string, flags ...string) *receiver {
	t.Helper()
	n := receivers.Add(1)
	logPath := filepath.Join(dir, fmt.Sprintf("receiver-%d.log", n))
	addrFile := filepath.Join(dir, fmt.Sprintf("receiver-%d.addr", n))
	p := start(t, logPath, filepath.Join(receiverDist, "wsreceiver"), testbed.ReceiverArgs(addr, out, addrFile, flags...)...)
	listening, err := testbed.WaitAddr(addrFile, 10*time.Second, p.running)
	if err != nil {
		t.Fatalf("%v; its log:\n%s", err, p.tail())
	}
	return &receiver{process: p, addr: listening, out: out}
}

// stats are the receiver's counts, from its /stats.
func (r *receiver) stats(t *testing.T) receiverpkg.Stats {
	t.Helper()
	base, client := "http://"+r.addr, (*http.Client)(nil)
	if r.tls != nil {
		base = "https://" + r.addr
		client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: r.tls}}
		defer client.CloseIdleConnections()
	}
	s, err := testbed.ReceiverStats(client, base)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// received returns the messages in out, decoded, in the order received.
func received(t *testing.T, out string) []string {
	t.Helper()
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var msgs []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var m struct {
			Timestamp string `json:"timestamp"`
			Message   *string
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil || m.Message == nil {
			t.Fatalf("line %d of the receiver's output is not {timestamp,message}: %q (%v)", len(msgs)+1, sc.Text(), err)
		}
		if _, err := time.Parse(time.RFC3339Nano, m.Timestamp); err != nil || !strings.HasSuffix(m.Timestamp, "Z") {
			t.Fatalf("timestamp %q is not RFC 3339 in UTC: %v", m.Timestamp, err)
		}
		msgs = append(msgs, *m.Message)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return msgs
}

// filebeat is dist/filebeat with a plugin loaded.
type filebeat struct {
	*process
	httpAddr string // Filebeat's own stats endpoint
}

// startFilebeat runs dist/filebeat --plugin plugin with the given inputs and
// output.websocket settings, its data under dir.
func startFilebeat(t *testing.T, dir, plugin, inputs, output string) *filebeat {
	t.Helper()
	return startFilebeatFrom(t, filepath.Join(dist, "filebeat"), dir, plugin, inputs, output)
}

// startFilebeatEnv is startFilebeat with further environment variables
// ("KEY=value"), which the configuration can use as ${KEY}.
func startFilebeatEnv(t *testing.T, dir, plugin, inputs, output string, env ...string) *filebeat {
	t.Helper()
	return startFilebeatFrom(t, filepath.Join(dist, "filebeat"), dir, plugin, inputs, output, env...)
}

// startFilebeatFrom is startFilebeatEnv with another Filebeat binary.
func startFilebeatFrom(t *testing.T, binary, dir, plugin, inputs, output string, env ...string) *filebeat {
	t.Helper()
	return launchFilebeat(t, binary, dir, plugin, inputs, output, "", env)
}

// startFilebeatWith is startFilebeat with further top-level settings
// (YAML), such as queue.mem.events.
func startFilebeatWith(t *testing.T, dir, inputs, output, settings string) *filebeat {
	t.Helper()
	return launchFilebeat(t, filepath.Join(dist, "filebeat"), dir, filepath.Join(dist, "websocket.so"), inputs, output, settings, nil)
}

func launchFilebeat(t *testing.T, binary, dir, plugin, inputs, output, settings string, env []string) *filebeat {
	t.Helper()
	// Filebeat's home is the binary's folder, its default, where ./build.sh
	// puts module/ as Elastic's tarball has it: without one, every start
	// logs an ERROR.
	return launchFilebeatArgs(t, binary, dir, inputs, output, settings, env,
		"--plugin", plugin, "--strict.perms=false", "--path.home", filepath.Dir(binary))
}

// launchFilebeatArgs runs binary with the given inputs, output.websocket
// settings and further top-level settings, and args, such as --plugin and
// --path.home. Everything Filebeat writes goes under dir.
func launchFilebeatArgs(t *testing.T, binary, dir, inputs, output, settings string, env []string, args ...string) *filebeat {
	t.Helper()
	httpAddr := freeAddr(t)
	_, port, _ := net.SplitHostPort(httpAddr)
	cfgPath, err := testbed.FilebeatConfig{
		Inputs:   inputs,
		Output:   testbed.WebSocketOutput(output),
		HTTPPort: port,
		Settings: settings,
	}.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	args = append(args, "-e", "-c", cfgPath, "--path.data", filepath.Join(dir, "data"), "--path.logs", filepath.Join(dir, "logs"))
	p := startEnv(t, filepath.Join(dir, "filebeat.log"), env, binary, args...)
	return &filebeat{process: p, httpAddr: httpAddr}
}

// outputStats are libbeat.output in Filebeat's /stats: what the plugin
// reported through the Observer.
type outputStats struct {
	Events struct {
		Total, Acked, Failed, Dropped, Active int64
	}
	Write struct {
		Bytes, Errors int64
	}
}

// pipelineStats are libbeat.pipeline in Filebeat's /stats: events in the
// pipeline (Active: in the queue or on their way into it; Dropped: after
// retry_limit) and the queue's (Acked: acknowledged by the output, or
// with the disk queue written to disk; MaxEvents: 0 for the disk queue).
type pipelineStats struct {
	Events struct {
		Active, Published, Total, Dropped int64
	}
	Queue struct {
		Acked     int64
		MaxEvents int64 `json:"max_events"`
	}
}

func (f *filebeat) outputStats(t *testing.T) outputStats {
	t.Helper()
	return f.libbeatStats(t).Output
}

func (f *filebeat) pipelineStats(t *testing.T) pipelineStats {
	t.Helper()
	return f.libbeatStats(t).Pipeline
}

// libbeatStats are libbeat in Filebeat's /stats.
type libbeatStats struct {
	Output   outputStats
	Pipeline pipelineStats
}

func (f *filebeat) libbeatStats(t *testing.T) libbeatStats {
	t.Helper()
	var s struct{ Libbeat libbeatStats }
	getJSON(t, "http://"+f.httpAddr+"/stats", &s)
	return s.Libbeat
}

func getJSON(t *testing.T, url string, v interface{}) {
	t.Helper()
	if err := testbed.GetJSON(nil, url, v); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := testbed.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// line is the i-th line of a generated log: about 200 bytes, with
// characters the encoder must escape and multi-byte UTF-8.
func line(i int) string { return testbed.Line(i) }

// writeLog appends lines [from, to) to path.
func writeLog(t *testing.T, path string, from, to int) {
	t.Helper()
	if err := appendLines(path, from, to); err != nil {
		t.Fatal(err)
	}
}

// growLog writes lines [0, first) to path at once, then appends the rest
// up to total, step lines every interval, on a goroutine of its own. The
// channel says when it is done, with the first error.
func growLog(t *testing.T, path string, first, total, step int, every time.Duration) <-chan error {
	t.Helper()
	writeLog(t, path, 0, first)
	done := make(chan error, 1)
	go func() {
		for from := first; from < total; from += step {
			time.Sleep(every)
			if err := appendLines(path, from, min(from+step, total)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}

// appendLines is writeLog for goroutines other than the test's.
func appendLines(path string, from, to int) error {
	return testbed.AppendLines(path, from, to, line)
}

// writeLines writes lines [from, to) to w, each followed by a newline.
func writeLines(w io.Writer, from, to int) error {
	return testbed.WriteLines(w, from, to, line)
}

// memory is a process's resident set: now and its peak, in bytes.
type memory struct{ now, peak int64 }

// memory reads the process's VmRSS and VmHWM from /proc.
func (p *process) memory(t *testing.T) memory {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	var m memory
	for _, l := range strings.Split(string(b), "\n") {
		name, value, _ := strings.Cut(l, ":")
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch {
		case err != nil:
		case name == "VmRSS":
			m.now = kb << 10
		case name == "VmHWM":
			m.peak = kb << 10
		}
	}
	if m.peak == 0 {
		t.Fatalf("no VmHWM in /proc/%d/status", p.cmd.Process.Pid)
	}
	return m
}
