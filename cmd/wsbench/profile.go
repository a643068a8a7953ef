package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
)

// profiler takes CPU profiles of Filebeat (its --httpprof endpoint) one
// second at a time, from start to stop, each into a file of its own:
// prefix-1.pprof, prefix-2.pprof and so on; go tool pprof merges them. The
// steady state alone is profiled, without start-up and shutdown, and a
// profile never depends on Filebeat stopping cleanly. A nil profiler does
// nothing.
type profiler struct {
	url, prefix string
	done        chan struct{}
	wg          sync.WaitGroup
}

func (p *profiler) start() {
	if p == nil {
		return
	}
	p.done = make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for n := 1; ; n++ {
			if err := p.take(n); err != nil {
				log.Printf("profile %s-%d: %v", p.prefix, n, err)
				return
			}
			select {
			case <-p.done:
				return
			default:
			}
		}
	}()
}

// take saves one profile, unless stop came while it was taken.
func (p *profiler) take(n int) error {
	resp, err := http.Get(p.url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", p.url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
		return nil // it covers the end of the run
	default:
	}
	return os.WriteFile(fmt.Sprintf("%s-%d.pprof", p.prefix, n), b, 0o644)
}

func (p *profiler) stop() {
	if p == nil || p.done == nil {
		return
	}
	close(p.done)
	p.wg.Wait()
}
