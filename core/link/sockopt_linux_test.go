package link

import (
	"context"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

func TestFirewallMark(t *testing.T) {
	if unix.Geteuid() != 0 {
		t.Skip("setting SO_MARK needs CAP_NET_ADMIN (run as root)")
	}
	lc := net.ListenConfig{Control: socketControl(0x2a)}
	ln, err := lc.Listen(context.Background(), "tcp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var mark int
	var gerr error
	if err := rc.Control(func(fd uintptr) { mark, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil || mark != 0x2a {
		t.Errorf("SO_MARK = %#x, %v; want 0x2a", mark, gerr)
	}
	if socketControl(0) != nil {
		t.Error("socketControl(0) is not nil")
	}
}
