package link

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// notSentLowat keeps at most this much unsent data in a TCP socket's
// kernel buffer, so the backlog waits in the link's queue where control
// packets can overtake it.
const notSentLowat = 256 << 10

// socketControl sets SO_MARK on new sockets when mark is not zero
// (spec §2.11).
func socketControl(mark uint32) func(network, address string, c syscall.RawConn) error {
	if mark == 0 {
		return nil
	}
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(mark))
		})
		if err != nil {
			return err
		}
		return serr
	}
}

func tunePlatform(tc *net.TCPConn) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, notSentLowat)
	})
}
