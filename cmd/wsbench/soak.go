package main

import (
	"bufio"
	"errors"
	"fmt"
	"log"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/beats-websocket/websocket-output/testbed"
)

// The soak: the real Filebeat with the plugin and ack.enabled: true ships
// a log that grows at a steady rate to wsreceiver -ack, which is killed
// with SIGKILL at random times and restarted on the same port with a new
// output file. Filebeat's /stats is sampled every second. At the end the
// receivers' outputs together must hold every line of the log, and
// Filebeat's RSS and goroutine count must not have grown (the flatness
// criterion in soakreport.go).
//
// A log that grows, rather than one written before the start, keeps the
// soak going for minutes at a realistic pace (at full speed 5,000,000
// lines take under a minute, with a handful of restarts), so the samples
// cover a long steady state with many reconnects.
type soakConfig struct {
	lines          int           // lines in the log
	rate           int           // lines appended per second; 0: the whole log before Filebeat starts
	gapMin, gapMax time.Duration // between a receiver's start and its kill
	seed           int64         // for the kill times and outages
}

const (
	// outageMin and outageMax bound the time between a kill and the
	// restart: long enough for connects to fail and the client to back
	// off, short enough that the soak is mostly shipping.
	outageMin = 100 * time.Millisecond
	outageMax = time.Second
	// soakStuck ends the soak when no event was acknowledged for this
	// long: more than the output's longest backoff (backoff.max, 60s).
	soakStuck = 2 * time.Minute
)

// sample is one reading of Filebeat's /stats.
type sample struct {
	at         time.Duration // since Filebeat started
	acked      int64         // libbeat.output.events.acked
	rssMB      float64       // beat.memstats.rss
	goroutines int64         // beat.runtime.goroutines
}

// soakRun is what the soak measured, for the report.
type soakRun struct {
	cfg        soakConfig
	samples    []sample
	restarts   int
	logPath    string   // the log shipped
	outputs    []string // the receivers' output files, in order
	samplesCSV string
	elapsed    time.Duration
	final      beatStats // Filebeat's counters when every event was acknowledged
	peakRSSMB  float64   // getrusage, after Filebeat exited
	stopTook   time.Duration
	check      soakCheck
}

func (b *bench) soak(cfg soakConfig) (*soakRun, error) {
	dir := filepath.Join(b.work, "soak")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	rnd := rand.New(rand.NewSource(cfg.seed))
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rnd.Int63n(int64(hi-lo)+1)) }
	run := &soakRun{cfg: cfg}

	logPath := filepath.Join(dir, "app.log")
	run.logPath = logPath
	stopWriting := make(chan struct{})
	defer close(stopWriting)
	written, err := growingLog(logPath, cfg.lines, cfg.rate, stopWriting)
	if err != nil {
		return nil, err
	}

	recvLog, err := os.Create(filepath.Join(dir, "receivers.log"))
	if err != nil {
		return nil, err
	}
	defer recvLog.Close()
	startRecv := func(listen string) (*testbed.Receiver, error) {
		out := filepath.Join(dir, fmt.Sprintf("received-%03d.log", len(run.outputs)+1))
		run.outputs = append(run.outputs, out)
		return testbed.StartReceiver(filepath.Join(b.dist, "wsreceiver"), listen, out, filepath.Join(dir, "receiver.addr"), []string{"-ack"}, recvLog)
	}
	recv, err := startRecv("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer func() { recv.Stop() }()

	fb, statsURL, err := b.startFilebeat(dir, logPath, recv.Addr)
	if err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- fb.Wait() }()
	fbExited := false // once received from exited
	defer func() {
		if !fbExited {
			fb.Process.Kill()
			<-exited
		}
	}()
	start := time.Now()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	restart := time.NewTimer(between(cfg.gapMin, cfg.gapMax))
	defer restart.Stop()
	down := false // between a kill and the restart
	lastAcked, lastChange := int64(-1), time.Now()
	for lastAcked < int64(cfg.lines) {
		select {
		case err := <-exited:
			fbExited = true
			return nil, fmt.Errorf("filebeat exited during the soak: %v (see %s)", err, filepath.Join(dir, "filebeat.log"))
		case err := <-written:
			if err != nil {
				return nil, err
			}
			written = nil
		case <-restart.C:
			if down {
				next, err := startRecv(recv.Addr)
				if err != nil {
					return nil, fmt.Errorf("restarting the receiver on %s: %w", recv.Addr, err)
				}
				recv, down = next, false
				restart.Reset(between(cfg.gapMin, cfg.gapMax))
				continue
			}
			recv.Kill()
			run.restarts++
			down = true
			restart.Reset(between(outageMin, outageMax))
		case <-tick.C:
			s, err := getBeatStats(statsURL)
			if err != nil {
				if time.Since(lastChange) > soakStuck {
					return nil, fmt.Errorf("filebeat's /stats: %w", err)
				}
				continue // not listening yet
			}
			run.samples = append(run.samples, sample{time.Since(start), s.acked, float64(s.rss) / 1e6, s.goroutines})
			run.final = s
			if s.acked != lastAcked {
				lastAcked, lastChange = s.acked, time.Now()
			}
			if time.Since(lastChange) > soakStuck {
				return nil, fmt.Errorf("stuck at %d acknowledged events of %d for %v (see %s)",
					s.acked, cfg.lines, soakStuck, filepath.Join(dir, "filebeat.log"))
			}
		}
	}
	run.elapsed = time.Since(start)

	stopping := time.Now()
	fb.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		fbExited = true
	case <-time.After(30 * time.Second):
		return nil, errors.New("filebeat did not stop within 30s of SIGTERM")
	}
	run.stopTook = time.Since(stopping)
	if ru, ok := fb.ProcessState.SysUsage().(*syscall.Rusage); ok {
		run.peakRSSMB = float64(ru.Maxrss) * 1024 / 1e6 // kilobytes on Linux
	}
	recv.Stop() // flushes what it holds; nothing if it is down

	run.samplesCSV = filepath.Join(dir, "samples.csv")
	if err := writeSamples(run.samplesCSV, run.samples); err != nil {
		return nil, err
	}
	run.check, err = checkOutputs(run.outputs, cfg.lines)
	return run, err
}

// removeData deletes the log and the receivers' output files, gigabytes
// in a full soak, and keeps Filebeat's and the receivers' logs and the
// samples.
func (r *soakRun) removeData() error {
	var errs []error
	for _, f := range append([]string{r.logPath}, r.outputs...) {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// startFilebeat starts Filebeat shipping logPath to the receiver at addr,
// with acks and otherwise the output's defaults, and returns the URL of
// its /stats.
func (b *bench) startFilebeat(dir, logPath, addr string) (*exec.Cmd, string, error) {
	statsAddr, err := testbed.FreeAddr()
	if err != nil {
		return nil, "", err
	}
	_, port, _ := net.SplitHostPort(statsAddr)
	cfgPath, err := testbed.FilebeatConfig{
		Inputs: testbed.FilestreamInput("soak", logPath) + `
  prospector.scanner.check_interval: 1s
  backoff.init: 100ms
  backoff.max: 1s`,
		Output:   testbed.WebSocketOutput(fmt.Sprintf("addr: %q\npath: /echo\nack.enabled: true", addr)),
		HTTPPort: port,
	}.Write(dir)
	if err != nil {
		return nil, "", err
	}
	logFile, err := os.Create(filepath.Join(dir, "filebeat.log"))
	if err != nil {
		return nil, "", err
	}
	bin, err := b.stage(b.dist)
	if err != nil {
		logFile.Close()
		return nil, "", err
	}
	fb := exec.Command(filepath.Join(bin, "filebeat"), "--plugin", filepath.Join(bin, "websocket.so"),
		"-e", "--strict.perms=false", "-c", cfgPath, "--path.home", dir)
	fb.Stdout, fb.Stderr = logFile, logFile
	err = fb.Start()
	logFile.Close() // the child has its own descriptor
	return fb, "http://" + statsAddr + "/stats", err
}

// growingLog writes the first tenth of a second's lines to path, then
// appends the rest at rate lines per second on a goroutine of its own
// until all lines are written or stop is closed; the channel gives its
// error or nil. A rate of 0 writes every line before returning.
func growingLog(path string, lines, rate int, stop <-chan struct{}) (<-chan error, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	next := 0
	appendTo := func(n int) error {
		for ; next < min(n, lines); next++ {
			w.WriteString(testbed.BenchLine(next))
			w.WriteByte('\n')
		}
		return w.Flush() // whole lines only, so Filebeat never waits on half of one
	}
	done := make(chan error, 1)
	if rate <= 0 {
		err := appendTo(lines)
		done <- errors.Join(err, f.Close())
		return done, nil
	}
	if err := appendTo(rate / 10); err != nil {
		f.Close()
		return nil, err
	}
	go func() {
		defer f.Close()
		start := time.Now()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for next < lines {
			select {
			case <-stop:
				done <- nil
				return
			case <-tick.C:
			}
			// Paced by the clock, not by ticks, so a late tick catches up.
			if err := appendTo(rate/10 + int(time.Since(start).Seconds()*float64(rate))); err != nil {
				done <- err
				return
			}
		}
		log.Printf("soak: all %d lines written in %v", lines, time.Since(start).Round(time.Second))
		done <- nil
	}()
	return done, nil
}
