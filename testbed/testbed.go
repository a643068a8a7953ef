// Package testbed is what the end-to-end tests and the benchmark share to
// run the real Filebeat with the plugin against the reference receiver: one
// way to start the receiver and learn its address (its -addr-file), one
// Filebeat configuration, the receiver's counts as its own receiver.Stats,
// and the log lines they generate.
package testbed

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/beats-websocket/websocket-output/receiver"
)

// ReceiverArgs are the receiver's command line: listening on listen
// ("127.0.0.1:0" picks a port), on the path /echo, appending to out, and
// writing its address to addrFile; then args, further flags such as -ack.
func ReceiverArgs(listen, out, addrFile string, args ...string) []string {
	return append([]string{"-listen", listen, "-path", "/echo", "-out", out, "-addr-file", addrFile}, args...)
}

// WaitAddr waits, at most timeout, for the receiver to write the address it
// listens on to addrFile, and returns it. alive says whether the receiver
// still runs: if it exits first, the wait ends with an error.
func WaitAddr(addrFile string, timeout time.Duration, alive func() bool) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(addrFile)
		switch {
		case err == nil:
			return strings.TrimSpace(string(b)), nil
		case !errors.Is(err, os.ErrNotExist):
			return "", err
		case !alive():
			return "", errors.New("the receiver exited before it listened")
		case time.Now().After(deadline):
			return "", fmt.Errorf("the receiver did not listen within %v", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Receiver is the receiver binary started as a process by StartReceiver.
type Receiver struct {
	Addr   string // where it listens, host:port
	cmd    *exec.Cmd
	exited chan struct{} // closed once it has exited
}

// StartReceiver starts the receiver binary bin (ReceiverArgs), its log
// going to logTo, and returns it once it listens. A previous addrFile is
// removed first, so that a restart is not taken for listening.
func StartReceiver(bin, listen, out, addrFile string, args []string, logTo io.Writer) (*Receiver, error) {
	if err := os.Remove(addrFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	cmd := exec.Command(bin, ReceiverArgs(listen, out, addrFile, args...)...)
	cmd.Stdout, cmd.Stderr = logTo, logTo
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &Receiver{cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(r.exited)
	}()
	addr, err := WaitAddr(addrFile, 10*time.Second, r.running)
	if err != nil {
		r.Kill()
		return nil, err
	}
	r.Addr = addr
	return r, nil
}

func (r *Receiver) running() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// stopWait is how long Stop waits for the receiver to exit after SIGTERM:
// its drain (5s by default) and a margin.
const stopWait = 15 * time.Second

// Stop stops the receiver with SIGTERM: it acknowledges and flushes what it
// holds, then exits. Stop waits for it, and kills it if it has not exited
// within stopWait; it does nothing once it has exited.
func (r *Receiver) Stop() {
	if r.running() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-r.exited:
	case <-time.After(stopWait):
		r.Kill()
	}
}

// Kill stops the receiver with SIGKILL, as a crash: what it holds unflushed
// and unacknowledged is lost with it. Kill waits for it.
func (r *Receiver) Kill() {
	if r.running() {
		_ = r.cmd.Process.Kill()
	}
	<-r.exited
}

// Pid is the receiver's process id.
func (r *Receiver) Pid() int {
	return r.cmd.Process.Pid
}

// Stats are the receiver's counts (ReceiverStats).
func (r *Receiver) Stats() (receiver.Stats, error) {
	return ReceiverStats(nil, "http://"+r.Addr)
}

// ReceiverStats reads the receiver's counts from base's /stats: base is
// "http://host:port", or "https://..." when it serves TLS (then client
// trusts its certificate; nil is a plain client).
func ReceiverStats(client *http.Client, base string) (receiver.Stats, error) {
	var s receiver.Stats
	err := GetJSON(client, base+"/stats", &s)
	return s, err
}

// statsClient bounds each request, so that a hung process fails the test
// or the benchmark instead of hanging it.
var statsClient = &http.Client{Timeout: 10 * time.Second}

// GetJSON gets url and decodes its JSON body into v. A nil client is one
// whose requests time out after 10 s.
func GetJSON(client *http.Client, url string, v any) error {
	if client == nil {
		client = statsClient
	}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// FilebeatConfig is the Filebeat configuration the tests and the benchmark
// run: their inputs and output, Filebeat's stats endpoint on 127.0.0.1, and
// further settings.
type FilebeatConfig struct {
	Inputs   string // items of filebeat.inputs, YAML
	Output   string // the output section, whole: output.websocket: ... or output.file: ...
	HTTPPort string // Filebeat's /stats endpoint
	LogLevel string // logging.level; "" is info
	Settings string // further top-level settings, YAML
}

// YAML is the configuration as filebeat.yml.
func (c FilebeatConfig) YAML() string {
	level := c.LogLevel
	if level == "" {
		level = "info"
	}
	// The periodic metrics log line is off unless Settings sets it: one
	// key given twice, once dotted, is a duplicate to go-ucfg, or not,
	// depending on the order it merges the two in.
	metrics := "logging.metrics.enabled: false\n"
	if strings.Contains(c.Settings, "logging.metrics") {
		metrics = ""
	}
	return fmt.Sprintf(`filebeat.inputs:
%s
%s
http.enabled: true
http.host: 127.0.0.1
http.port: %s
logging.level: %s
%s%s
`, Indent(c.Inputs), strings.TrimRight(c.Output, "\n"), c.HTTPPort, level, metrics, c.Settings)
}

// Write writes the configuration to dir/filebeat.yml, readable by its
// owner only (Filebeat checks), and returns the file's path.
func (c FilebeatConfig) Write(dir string) (string, error) {
	path := filepath.Join(dir, "filebeat.yml")
	return path, os.WriteFile(path, []byte(c.YAML()), 0o600)
}

// WebSocketOutput is output.websocket with the given settings (YAML, not
// indented).
func WebSocketOutput(settings string) string {
	return "output.websocket:\n" + Indent(settings)
}

// FilestreamInput is a filestream input of the files paths, with id.
func FilestreamInput(id string, paths ...string) string {
	quoted := make([]string, len(paths))
	for i, p := range paths {
		quoted[i] = fmt.Sprintf("%q", p)
	}
	return fmt.Sprintf("- type: filestream\n  id: %s\n  paths: [%s]", id, strings.Join(quoted, ", "))
}

// Indent indents each line of s by two spaces.
func Indent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

// FreeAddr returns a 127.0.0.1 address with a port free at the time.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
