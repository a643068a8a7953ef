package wstest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Trickle is a TCP forwarder to target that passes what the client sends on
// at rate bytes a second, in 1/20 s steps, as a slow link or a server that
// reads slowly: the client's writes block once the kernel's buffers are
// full. What the server sends goes back at once. It returns the address to dial instead
// of target; the test's cleanup stops it.
func Trickle(t *testing.T, target string, rate int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	track := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			track(client)
			track(server)
			wg.Add(2)
			go func() {
				defer wg.Done()
				io.Copy(client, server)
				client.Close()
			}()
			go func() {
				defer wg.Done()
				defer server.Close()
				const tick = 50 * time.Millisecond
				buf := make([]byte, max(rate*int(tick)/int(time.Second), 1))
				for {
					start := time.Now()
					n, err := client.Read(buf)
					if n > 0 {
						if _, werr := server.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
					// The pace of the link, not synchronisation.
					time.Sleep(time.Duration(n)*time.Second/time.Duration(rate) - time.Since(start))
				}
			}()
		}
	}()
	return ln.Addr().String()
}
