//go:build !linux

package link

import (
	"net"
	"syscall"
)

// socketControl: firewall marks exist only on Linux.
func socketControl(uint32) func(network, address string, c syscall.RawConn) error { return nil }

func tunePlatform(*net.TCPConn) {}
