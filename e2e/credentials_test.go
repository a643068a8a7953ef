package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// URLs whose user information does not parse as meant: Filebeat stops at
// start naming the key, and nothing it prints shows any part of the
// credentials. Valid credentials in proxy_url are not shown either.
func TestEndToEnd_URLCredentialsNeverAppearInFilebeatsOutput(t *testing.T) {
	const addr = "addr: 127.0.0.1:9\n"
	secrets := []string{"alice", "Sup3r", "Secret", "31337"}
	for i, tc := range []struct {
		setting string
		starts  bool
	}{
		{addr + `proxy_url: "http://alice:Sup3rSecret#1@proxy.example:3128"`, false},
		{addr + `proxy_url: "http://alice:31337/Secret@proxy.example:3128"`, false},
		{addr + `proxy_url: "http://alice:Sup3r%zzSecret@proxy.example:3128"`, false},
		{`hosts: ["ws://alice:Sup3rSecret#1@127.0.0.1:9/in"]`, false},
		{`hosts: ["ws://alice:31337/Secret@127.0.0.1:9/in"]`, false},
		{addr + `proxy_url: "http://alice:Sup3r%23Secret@127.0.0.1:9"`, true},
	} {
		// Named by number: the test's name is in its temporary folder's,
		// which Filebeat's log shows.
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel() // each waits for a Filebeat to start
			dir := t.TempDir()
			log := filepath.Join(dir, "app.log")
			writeLog(t, log, 0, 1)
			fb := startFilebeat(t, dir, filepath.Join(dist, "websocket.so"), inputFor(log), tc.setting)
			if tc.starts {
				waitFor(t, time.Minute, "the output's start-up line", func() bool {
					return strings.Contains(fb.output(), "websocket output ")
				})
				if !strings.Contains(fb.output(), "proxy: http://127.0.0.1:9 (with credentials)") {
					t.Fatalf("the start-up line does not name the proxy:\n%s", fb.tail())
				}
				fb.stop(t)
			} else {
				if err := fb.wait(t, time.Minute); err == nil {
					t.Fatalf("Filebeat accepted case %d and exited cleanly", i)
				}
				key := "proxy_url: "
				if strings.HasPrefix(tc.setting, "hosts") {
					key = "hosts[0]: "
				}
				if !strings.Contains(fb.output(), key) {
					t.Fatalf("Filebeat's error does not name %q:\n%s", key, fb.tail())
				}
			}
			for _, s := range secrets {
				if strings.Contains(fb.output(), s) {
					t.Fatalf("Filebeat's output shows %q:\n%s", s, fb.output())
				}
			}
		})
	}
}
