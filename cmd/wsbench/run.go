package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/beats-websocket/websocket-output/receiver"
	"github.com/beats-websocket/websocket-output/testbed"
)

type bench struct {
	dist, work string
	staged     map[string]string // copies of the builds run, by dist/ folder
	profiles   string            // a folder for Filebeat's CPU profiles; "": none
	callgrind  string            // a folder for callgrind's outputs: Filebeat runs under it; "": not
}

// timing is how often Filebeat's /stats is polled and how long Filebeat
// may take. A poll is dear: Filebeat gathers every metric for it, its
// process's from /proc too, and polls every 20 ms took 6 to 8 % of its
// CPU in the measured window, more of it per event in slower cases. So
// polls come every poll until the first event is acknowledged, then at a
// quarter of the time the rest is expected to take, at most maxPoll apart
// and at least poll, so that the end is seen within poll. Under
// callgrind, which runs Filebeat about fifty times slower and counts the
// polls with the events, everything is slower and farther apart.
type timing struct {
	poll, maxPoll, stuck, stop time.Duration
}

func (b *bench) timing() timing {
	if b.callgrind != "" {
		return timing{poll: time.Second, maxPoll: 5 * time.Second, stuck: 10 * time.Minute, stop: 5 * time.Minute}
	}
	return timing{poll: 20 * time.Millisecond, maxPoll: 500 * time.Millisecond, stuck: time.Minute, stop: 30 * time.Second}
}

// next is the wait before the next poll, acked of lines acknowledged and
// rate events/s so far (0: none yet).
func (tm timing) next(acked int64, lines int, rate float64) time.Duration {
	if rate <= 0 {
		return tm.poll
	}
	rest := time.Duration(float64(int64(lines)-acked) / rate * float64(time.Second))
	return min(max(rest/4, tm.poll), tm.maxPoll)
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
	return &bench{dist: d, work: w, staged: map[string]string{}}, err
}

// stage returns a folder with copies of dist's filebeat and websocket.so,
// made once per wsbench run, which the cases run instead. A binary the Go
// linker has just written sits in the page cache otherwise than a copy of
// it (in large folios, on recent kernels): measured here, the same
// Filebeat used about 20 MB more RSS, and its CPU per event differed by up
// to 20 %, depending only on how its file was written. Copies made alike
// compare builds fairly, and are what an installation from a package is.
func (b *bench) stage(dist string) (string, error) {
	if dir, ok := b.staged[dist]; ok {
		return dir, nil
	}
	dir := filepath.Join(b.work, fmt.Sprintf("bin-%d", len(b.staged)+1))
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, f := range []string{"filebeat", "websocket.so"} {
		if err := copyFile(filepath.Join(dist, f), filepath.Join(dir, f)); err != nil {
			return "", err
		}
	}
	b.staged[dist] = dir
	return dir, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(struct{ io.Writer }{out}, in); err != nil { // a plain copy, not copy_file_range's shared extents
		out.Close()
		return err
	}
	return out.Close()
}

// run ships the whole input once and measures it; round numbers its CPU
// profile, if any.
func (b *bench) run(c benchCase, input string, lines, round int) (result, error) {
	dir := filepath.Join(b.work, "run-"+strings.ReplaceAll(c.name, " ", "-"))
	if err := os.RemoveAll(dir); err != nil {
		return result{}, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "out"), 0o755); err != nil {
		return result{}, err
	}

	// The cases measure the output: the receiver's checks of every event
	// (the tests keep them on) would take CPU from Filebeat here.
	var recvs []*testbed.Receiver
	defer func() {
		for _, r := range recvs {
			r.Stop()
		}
	}()
	var addrs []string
	for i := range c.receivers {
		addrFile := filepath.Join(dir, fmt.Sprintf("receiver-%d.addr", i))
		r, err := testbed.StartReceiver(filepath.Join(b.dist, "wsreceiver"), "127.0.0.1:0", os.DevNull, addrFile, append([]string{"-validate=false"}, c.recvArgs...), io.Discard)
		if err != nil {
			return result{}, err
		}
		recvs = append(recvs, r)
		addrs = append(addrs, r.Addr)
	}

	statsAddr, err := testbed.FreeAddr()
	if err != nil {
		return result{}, err
	}
	_, port, _ := net.SplitHostPort(statsAddr)
	cfgPath, err := testbed.FilebeatConfig{
		Inputs:   testbed.FilestreamInput("bench", input),
		Output:   c.output(addrs, dir),
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
	dist := b.dist
	if c.dist != "" {
		dist = c.dist
	}
	if dist, err = b.stage(dist); err != nil {
		return result{}, err
	}
	args := []string{"--plugin", filepath.Join(dist, "websocket.so"), "-e", "--strict.perms=false", "-c", cfgPath, "--path.home", dir}
	var prof *profiler
	if b.profiles != "" {
		addr, err := testbed.FreeAddr()
		if err != nil {
			return result{}, err
		}
		args = append(args, "--httpprof", addr)
		prof = &profiler{url: "http://" + addr + "/debug/pprof/profile?seconds=1",
			prefix: filepath.Join(b.profiles, fmt.Sprintf("%s-%d-%d", strings.ReplaceAll(c.name, " ", "-"), lines, round))}
	}
	fb := exec.Command(filepath.Join(dist, "filebeat"), args...)
	fb.Env = append(os.Environ(), c.env...)
	var callgrindOut string
	if b.callgrind != "" {
		callgrindOut = filepath.Join(b.callgrind, fmt.Sprintf("callgrind.out.%s-%d-%d", strings.ReplaceAll(c.name, " ", "-"), lines, round))
		// Callgrind fails on the signals of Go's asynchronous preemption.
		fb = exec.Command("valgrind", append([]string{"--tool=callgrind", "--callgrind-out-file=" + callgrindOut, fb.Path}, args...)...)
		fb.Env = append(os.Environ(), append(c.env, "GODEBUG=asyncpreemptoff=1")...)
	}
	fb.Stdout, fb.Stderr = logFile, logFile
	if err := fb.Start(); err != nil {
		return result{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- fb.Wait() }()

	pids := make([]int, len(recvs))
	for i, r := range recvs {
		pids[i] = r.Pid()
	}
	tm := b.timing()
	res, measureErr := measure("http://"+statsAddr+"/stats", lines, exited, fb.Process.Pid, pids, prof, tm)
	if callgrindOut != "" && measureErr == nil {
		// Callgrind fails on the signal that would stop Filebeat: its
		// counts are dumped through callgrind_control, then it is killed.
		if out, err := exec.Command("callgrind_control", "--dump", strconv.Itoa(fb.Process.Pid)).CombinedOutput(); err != nil {
			measureErr = fmt.Errorf("callgrind_control: %v: %s", err, out)
		}
		fb.Process.Kill()
	}
	_ = fb.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(tm.stop):
		fb.Process.Kill()
		<-exited
		return result{}, fmt.Errorf("filebeat did not stop within %v of SIGTERM", tm.stop)
	}
	if measureErr != nil {
		return result{}, fmt.Errorf("%w (see %s)", measureErr, logFile.Name())
	}
	if ru, ok := fb.ProcessState.SysUsage().(*syscall.Rusage); ok && callgrindOut == "" {
		res.rssMB = float64(ru.Maxrss) / 1024 // kilobytes on Linux
	}
	if callgrindOut != "" {
		if res.instructions, err = callgrindTotal(callgrindOut + ".1"); err != nil { // the dump's
			return result{}, err
		}
	}

	// Throughput counts only if nothing was lost on the way. Filebeat
	// without acks counts an event once it is in its socket, so a receiver
	// may still be reading the last batch when Filebeat has exited: its
	// count is final once it has seen every connection end.
	if len(recvs) > 0 {
		var got int64
		for _, r := range recvs {
			st, err := settled(r, tm.stop)
			if err != nil {
				return result{}, err
			}
			got += st.Events
		}
		if got != int64(lines) {
			return result{}, fmt.Errorf("the receivers got %d events of %d", got, lines)
		}
	}
	return res, nil
}

// measure polls Filebeat's acked-events counter until it reaches lines and
// returns the rate from the first acknowledged event to the last, and the
// CPU time Filebeat (pid) and the receivers (recvPids) used meanwhile; prof,
// if not nil, profiles Filebeat meanwhile.
func measure(statsURL string, lines int, exited <-chan error, pid int, recvPids []int, prof *profiler, tm timing) (result, error) {
	defer prof.stop()
	var (
		first                time.Time
		firstAcked           int64
		firstCPU, firstRecvs time.Duration
		firstSys             time.Duration
		last                 int64
		lastChange           = time.Now()
		wait                 = tm.poll
	)
	for {
		select {
		case err := <-exited:
			return result{}, fmt.Errorf("filebeat exited early: %v", err)
		case <-time.After(wait):
		}
		acked, err := ackedEvents(statsURL)
		if err != nil {
			if time.Since(lastChange) > tm.stuck {
				return result{}, err
			}
			continue // not listening yet
		}
		now := time.Now()
		user, sys, cpuErr := cpuTimes2(pid)
		cpu := user + sys
		recvs, recvErr := cpuTimes(recvPids)
		if err := errors.Join(cpuErr, recvErr); err != nil {
			return result{}, err
		}
		if acked != last {
			last, lastChange = acked, now
		}
		if acked > 0 && first.IsZero() {
			first, firstAcked, firstCPU, firstRecvs, firstSys = now, acked, cpu, recvs, sys
			prof.start()
		}
		if acked >= int64(lines) {
			if acked == firstAcked {
				return result{}, errors.New("all events acked before the first poll: input too small to measure")
			}
			events := float64(acked - firstAcked)
			return result{
				eps:         events / now.Sub(first).Seconds(),
				events:      events,
				cpu:         (cpu - firstCPU).Seconds(),
				sysCPU:      (sys - firstSys).Seconds(),
				recvCPU:     (recvs - firstRecvs).Seconds(),
				loadAverage: loadAverage(),
			}, nil
		}
		if now.Sub(lastChange) > tm.stuck {
			return result{}, fmt.Errorf("stuck at %d acked events of %d", acked, lines)
		}
		if !first.IsZero() && now.After(first) {
			wait = tm.next(acked, lines, float64(acked-firstAcked)/now.Sub(first).Seconds())
		}
	}
}

// settled returns r's counts once no connection to it is open, waiting at
// most within.
func settled(r *testbed.Receiver, within time.Duration) (receiver.Stats, error) {
	deadline := time.Now().Add(within)
	for {
		st, err := r.Stats()
		if err != nil || st.Active == 0 {
			return st, err
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("the receiver still has %d connection(s) open %v after Filebeat exited", st.Active, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
