package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
)

// compression: true against a receiver that accepts permessage-deflate: it
// is negotiated, the data arrives intact, and fewer bytes cross the wire.
func TestCompression_NegotiatedAndDataIntact(t *testing.T) {
	for _, frame := range []string{"event", "batch"} {
		t.Run("frame="+frame, func(t *testing.T) {
			wire := map[bool]int64{}
			for _, compress := range []bool{false, true} {
				dir := t.TempDir()
				recv := startReceiver(t, dir, "127.0.0.1:0", filepath.Join(dir, "received.log"), "-compression")
				ships(t, recv, fmt.Sprintf("addr: %q\npath: /echo\nframe: %s\ncompression: %v\n", recv.addr, frame, compress))
				s := recv.stats(t)
				if compressed := s.Compressed > 0; compressed != compress {
					t.Fatalf("compression: %v, but %d of %d connections negotiated it", compress, s.Compressed, s.Connections)
				}
				wire[compress] = s.WireBytes
				t.Logf("compression: %v: %d bytes of messages, %d bytes on the wire", compress, s.Bytes, s.WireBytes)
			}
			if wire[true] >= wire[false] {
				t.Fatalf("compressed %d bytes on the wire, uncompressed %d", wire[true], wire[false])
			}
			t.Logf("frame: %s: compression took the wire size from %d to %d bytes (%.0f%% less)",
				frame, wire[false], wire[true], 100*(1-float64(wire[true])/float64(wire[false])))
		})
	}
}
