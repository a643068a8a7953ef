//go:build !linux

package transport

import "net"

// unacked does not know, on this system, what the peer has acknowledged.
func unacked(net.Conn) (int, bool) { return 0, false }
