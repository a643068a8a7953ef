package transport

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// bytesAcked returns how many bytes written to conn, a TCP connection, its
// peer's TCP has acknowledged (TCP_INFO's tcpi_bytes_acked): exact and
// monotonic, whatever our writes are doing.
func bytesAcked(conn net.Conn) (uint64, bool) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var info *unix.TCPInfo
	var infoErr error
	if err := raw.Control(func(fd uintptr) {
		info, infoErr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil || infoErr != nil {
		return 0, false
	}
	return info.Bytes_acked, true
}
