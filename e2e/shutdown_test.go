package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SIGTERM, as a service manager stops Filebeat: a clean exit within a few
// seconds, whatever the output is doing, and nothing lost with acks.
//
// Filebeat 7.17 does not close its output when it stops (libbeat's
// cmd/instance/beat.go leaves "defer pipeline.Close()" commented out): once
// the inputs and the registrar have stopped, the process exits, whatever
// the output's clients are doing. So these tests measure what a user sees,
// that neither a backoff wait nor a dial nor a stream holds the process;
// that Close itself ends each of these (it does on an output reload) is
// tested in wsclient.

// shutdownBound is how long Filebeat may take to exit after SIGTERM. It
// takes milliseconds here; the rest is slack for a busy machine.
const shutdownBound = 10 * time.Second

// terminate sends SIGTERM and returns how long Filebeat took to exit,
// failing the test if it took longer than shutdownBound or did not exit 0.
func terminate(t *testing.T, fb *filebeat) time.Duration {
	t.Helper()
	if !fb.running() {
		t.Fatalf("Filebeat had exited before SIGTERM (%v); its log:\n%s", fb.err, fb.tail())
	}
	start := time.Now()
	if err := fb.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-fb.exited:
	case <-time.After(shutdownBound):
		// SIGQUIT makes the Go runtime print every goroutine's stack: what
		// held the exit.
		fb.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-fb.exited:
		case <-time.After(5 * time.Second):
			fb.cmd.Process.Kill()
			<-fb.exited
		}
		t.Fatalf("Filebeat did not exit within %v of SIGTERM; its log, with its goroutines:\n%s", shutdownBound, fb.output())
	}
	took := time.Since(start)
	if fb.err != nil {
		t.Fatalf("Filebeat exited with %v after SIGTERM; its log:\n%s", fb.err, fb.tail())
	}
	return took
}

// Mid-stream with acks: Filebeat stops promptly, and a Filebeat started
// again on the same data folder sends what the first had not delivered.
func TestShutdown_SIGTERMMidStreamExitsQuicklyAndResumesWithoutLoss(t *testing.T) {
	t.Parallel()
	const total = 100000
	dir := t.TempDir()
	log, out := filepath.Join(dir, "app.log"), filepath.Join(dir, "received.log")
	writing := growLog(t, log, 10000, total, 2000, 50*time.Millisecond)
	recv := startReceiver(t, dir, "127.0.0.1:0", out, "-ack")
	plugin := filepath.Join(dist, "websocket.so")
	output := outputTo(recv, "ack.enabled: true")

	fb := startFilebeat(t, dir, plugin, inputFor(log), output)
	waitFor(t, time.Minute, "the first 20000 events", func() bool { return recv.stats(t).Events >= 20000 })
	took := terminate(t, fb)
	atStop := recv.stats(t).Events
	t.Logf("SIGTERM mid-stream (%d of %d lines at the receiver): Filebeat exited 0 in %v", atStop, total, took.Round(time.Millisecond))
	if atStop >= total {
		t.Fatalf("every line had arrived before SIGTERM: not mid-stream")
	}

	if err := <-writing; err != nil {
		t.Fatal(err)
	}
	fb = startFilebeat(t, dir, plugin, inputFor(log), output)
	// The receiver counts duplicates too: wait for every line in its output.
	tail := newTailer(t, out)
	waitFor(t, 2*time.Minute, "every line after the restart", func() bool {
		tail.read()
		return tail.distinct() >= total
	})
	fb.stop(t)
	recv.stop(t)

	got := received(t, out)
	seen := make(map[string]bool, len(got))
	for _, m := range got {
		seen[m] = true
	}
	for i := 0; i < total; i++ {
		if !seen[line(i)] {
			t.Fatalf("line %d never arrived (%d of %d distinct lines arrived)", i, len(seen), total)
		}
	}
	duplicates := len(got) - len(seen)
	t.Logf("after the restart all %d lines arrived, %d duplicates", total, duplicates)
	// Had the registry not kept what was acknowledged before SIGTERM, the
	// restart would have sent everything again.
	if duplicates >= int(atStop) {
		t.Fatalf("%d duplicates of the %d lines delivered before SIGTERM: the restart did not resume", duplicates, atStop)
	}
}

// The receiver is down and the client waits out a long backoff: SIGTERM
// ends the wait.
func TestShutdown_SIGTERMDuringBackoffWaitExitsQuickly(t *testing.T) {
	t.Parallel()
	url := "ws://" + freeAddr(t) + "/echo" // nothing listens there
	fb := startOnFreshLog(t, fmt.Sprintf("hosts: [%q]\nbackoff.init: 30s\nbackoff.max: 60s\n", url))
	// libbeat logs this just before the Connect that waits out the backoff.
	waitFor(t, time.Minute, "a failed connect and the retry after it", func() bool {
		out := fb.output()
		return strings.Contains(out, "Failed to connect to websocket("+url+")") &&
			strings.Contains(out, "Attempting to reconnect to websocket("+url+") with 1 reconnect attempt(s)")
	})
	took := terminate(t, fb)
	t.Logf("SIGTERM during a 30s backoff wait: Filebeat exited 0 in %v", took.Round(time.Millisecond))
}

// The server accepts the TCP connection but never answers the handshake,
// which may take timeout (30s) to give up on: SIGTERM ends the dial.
func TestShutdown_SIGTERMDuringUnansweredHandshakeExitsQuickly(t *testing.T) {
	t.Parallel()
	silent := startSilentListener(t)
	url := "ws://" + silent.addr + "/echo"
	fb := startOnFreshLog(t, fmt.Sprintf("hosts: [%q]\ntimeout: 30s\n", url))
	waitFor(t, time.Minute, "the handshake to reach the silent server", func() bool {
		return silent.requested() > 0
	})
	took := terminate(t, fb)
	t.Logf("SIGTERM during an unanswered handshake: Filebeat exited 0 in %v", took.Round(time.Millisecond))
	if strings.Contains(fb.output(), "Connection to websocket("+url+") established") {
		t.Fatal("Filebeat connected to a server that never answered")
	}
}

// silentListener accepts TCP connections and reads what comes, but never
// answers, until the test ends.
type silentListener struct {
	addr string
	mu   sync.Mutex
	read int // bytes received: the handshake requests
}

func startSilentListener(t *testing.T) *silentListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentListener{addr: ln.Addr().String()}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			conns = append(conns, c)
			wg.Add(1)
			mu.Unlock()
			go func() {
				defer wg.Done()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					s.mu.Lock()
					s.read += n
					s.mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

func (s *silentListener) requested() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.read
}
