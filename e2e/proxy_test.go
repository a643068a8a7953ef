package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
)

// A real HTTP proxy (tinyproxy) between Filebeat and the receiver: the
// connection is a CONNECT tunnel through it, as from behind a corporate
// proxy.
func TestProxy_ShipsThroughTinyproxy(t *testing.T) {
	dir := t.TempDir()
	recv := startReceiver(t, dir, "127.0.0.1:0", filepath.Join(dir, "received.log"))
	proxy := startTinyproxy(t, dir)
	output := fmt.Sprintf("addr: %q\npath: /echo\nproxy_url: \"http://%s\"\n", recv.addr, proxy.addr)

	ships(t, recv, output)
	tunnels := proxy.connects(recv.addr)
	if tunnels < 1 {
		t.Fatalf("tinyproxy's log shows no CONNECT %s; its log:\n%s", recv.addr, proxy.tail())
	}
	t.Logf("tinyproxy tunnelled %d connection(s) to %s", tunnels, recv.addr)

	// proxy_disable overrides proxy_url: straight to the receiver.
	ships(t, recv, output+"proxy_disable: true\n")
	if n := proxy.connects(recv.addr); n != tunnels {
		t.Fatalf("with proxy_disable tinyproxy got %d more CONNECTs", n-tunnels)
	}
}
