package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/beats-websocket/websocket-output/testbed"
)

// benchCase is one way of shipping the input.
type benchCase struct {
	name     string
	baseline string // the case its ratio is taken against
	receiver bool   // needs dist/wsreceiver
	output   func(recvAddr, dir string) string
	recvArgs []string // further wsreceiver flags, such as -ack
}

func allCases() []benchCase {
	fileOut := func(codec string) func(string, string) string {
		return func(_, dir string) string {
			return fmt.Sprintf(`output.file:
  path: %q
  filename: out
  rotate_every_kb: 100000000
  number_of_files: 2
  %s
`, filepath.Join(dir, "out"), codec)
		}
	}
	wsOut := func(settings string) func(string, string) string {
		return func(addr, _ string) string {
			return testbed.WebSocketOutput(fmt.Sprintf("addr: %q\npath: /echo\n%s", addr, settings))
		}
	}
	return []benchCase{
		{"ceiling", "ceiling", false, fileOut(`codec.format.string: '%{[message]}'`), nil},
		{"frame-event", "ceiling", true, wsOut(""), nil},
		{"frame-batch", "ceiling", true, wsOut("frame: batch"), nil},
		{"file-json", "ceiling", false, fileOut("codec.json: {}"), nil},
		{"codec-json-batch", "file-json", true, wsOut("frame: batch\ncodec.json: {}"), nil},
		{"ack-event", "frame-event", true, wsOut("ack.enabled: true"), []string{"-ack"}},
		{"ack-batch", "frame-batch", true, wsOut("frame: batch\nack.enabled: true"), []string{"-ack"}},
		{"compress-batch", "frame-batch", true, wsOut("frame: batch\ncompression: true"), []string{"-compression"}},
	}
}

type bench struct {
	dist, work string
}

func newBench(dist, work string) (*bench, error) {
	for _, f := range []string{"filebeat", "websocket.so", "wsreceiver"} {
		if _, err := os.Stat(filepath.Join(dist, f)); err != nil {
			return nil, fmt.Errorf("%w (run ./build.sh first)", err)
		}
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	d, err := filepath.Abs(dist)
	if err != nil {
		return nil, err
	}
	w, err := filepath.Abs(work)
	return &bench{dist: d, work: w}, err
}

// run ships the whole input once and measures it.
func (b *bench) run(c benchCase, input string, lines int) (result, error) {
	dir := filepath.Join(b.work, "run-"+c.name)
	if err := os.RemoveAll(dir); err != nil {
		return result{}, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "out"), 0o755); err != nil {
		return result{}, err
	}

	// The cases measure the output: the receiver's checks of every event
	// (the tests keep them on) would take CPU from Filebeat here.
	var recv *testbed.Receiver
	if c.receiver {
		var err error
		if recv, err = testbed.StartReceiver(filepath.Join(b.dist, "wsreceiver"), "127.0.0.1:0", os.DevNull, filepath.Join(dir, "receiver.addr"), append([]string{"-validate=false"}, c.recvArgs...), io.Discard); err != nil {
			return result{}, err
		}
		defer recv.Stop()
	}
	addr := ""
	if recv != nil {
		addr = recv.Addr
	}

	statsAddr, err := testbed.FreeAddr()
	if err != nil {
		return result{}, err
	}
	_, port, _ := net.SplitHostPort(statsAddr)
	cfgPath, err := testbed.FilebeatConfig{
		Inputs:   testbed.FilestreamInput("bench", input),
		Output:   c.output(addr, dir),
		HTTPPort: port,
		LogLevel: "warning",
	}.Write(dir)
	if err != nil {
		return result{}, err
	}

	logFile, err := os.Create(filepath.Join(dir, "filebeat.log"))
	if err != nil {
		return result{}, err
	}
	defer logFile.Close()
	fb := exec.Command(filepath.Join(b.dist, "filebeat"), "--plugin", filepath.Join(b.dist, "websocket.so"),
		"-e", "--strict.perms=false", "-c", cfgPath, "--path.home", dir)
	fb.Stdout, fb.Stderr = logFile, logFile
	if err := fb.Start(); err != nil {
		return result{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- fb.Wait() }()

	res, measureErr := measure("http://"+statsAddr+"/stats", lines, exited)
	_ = fb.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		fb.Process.Kill()
		<-exited
		return result{}, errors.New("filebeat did not stop within 30s of SIGTERM")
	}
	if measureErr != nil {
		return result{}, fmt.Errorf("%w (see %s)", measureErr, logFile.Name())
	}
	if ru, ok := fb.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.rssMB = float64(ru.Maxrss) / 1024 // kilobytes on Linux
	}

	// Throughput counts only if nothing was lost on the way.
	if recv != nil {
		got, err := recv.Stats()
		if err != nil {
			return result{}, err
		}
		if got.Events != int64(lines) {
			return result{}, fmt.Errorf("the receiver got %d events of %d", got.Events, lines)
		}
	}
	return res, nil
}

// measure polls Filebeat's acked-events counter until it reaches lines and
// returns the rate from the first acknowledged event to the last.
func measure(statsURL string, lines int, exited <-chan error) (result, error) {
	var (
		first      time.Time
		firstAcked int64
		last       int64
		lastChange = time.Now()
	)
	for {
		select {
		case err := <-exited:
			return result{}, fmt.Errorf("filebeat exited early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		acked, err := ackedEvents(statsURL)
		if err != nil {
			if time.Since(lastChange) > time.Minute {
				return result{}, err
			}
			continue // not listening yet
		}
		now := time.Now()
		if acked != last {
			last, lastChange = acked, now
		}
		if acked > 0 && first.IsZero() {
			first, firstAcked = now, acked
		}
		if acked >= int64(lines) {
			if acked == firstAcked {
				return result{}, errors.New("all events acked before the first poll: input too small to measure")
			}
			return result{eps: float64(acked-firstAcked) / now.Sub(first).Seconds()}, nil
		}
		if now.Sub(lastChange) > time.Minute {
			return result{}, fmt.Errorf("stuck at %d acked events of %d", acked, lines)
		}
	}
}

// receiver is dist/wsreceiver writing what it receives to a file (the
// benchmark's cases: /dev/null).
