//go:build unix

package openaitest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// socketPair returns the two ends of a connected unix stream socket
// pair.
func socketPair() (net.Conn, net.Conn, error) {
	// Not every unix has SOCK_CLOEXEC (darwin does not): hold the fork
	// lock until close-on-exec is set, as package net does.
	syscall.ForkLock.RLock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("fake mesh: socketpair: %w", err)
	}
	a, errA := fileConn(fds[0])
	b, errB := fileConn(fds[1])
	if err := errors.Join(errA, errB); err != nil {
		if a != nil {
			a.Close()
		}
		if b != nil {
			b.Close()
		}
		return nil, nil, err
	}
	return a, b, nil
}

// fileConn turns fd into a net.Conn; net.FileConn dups it, so the
// original is closed here.
func fileConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "socketpair")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("fake mesh: socketpair conn: %w", err)
	}
	return c, nil
}
