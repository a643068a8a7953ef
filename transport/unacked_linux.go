package transport

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// unacked returns how many bytes written to conn, a TCP connection, its
// peer has not acknowledged yet (SIOCOUTQ: sent or not).
func unacked(conn net.Conn) (int, bool) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var n int
	var ioctlErr error
	if err := raw.Control(func(fd uintptr) {
		n, ioctlErr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
	}); err != nil || ioctlErr != nil {
		return 0, false
	}
	return n, true
}
