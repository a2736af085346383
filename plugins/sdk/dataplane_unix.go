//go:build unix

package sdk

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
)

// maxSocketPath is the portable limit of a unix socket path (macOS: 104
// bytes with the terminating NUL; Linux allows 108).
const maxSocketPath = 103

// NewDataPlane creates the data socket at socketPath (replacing a stale
// file; its directory should be private, mode 0700) and the fd-passing
// socket pair, and returns the host's side with a ready Handoff.
func NewDataPlane(socketPath string) (*DataPlane, error) {
	if len(socketPath) > maxSocketPath {
		return nil, fmt.Errorf("sdk: data socket path %q is %d bytes, longer than %d: use a shorter socket directory", socketPath, len(socketPath), maxSocketPath)
	}
	lnFile, err := listenDataSocket(socketPath)
	if err != nil {
		return nil, err
	}
	host, child, err := handoffPair()
	if err != nil {
		_ = lnFile.Close()
		_ = os.Remove(socketPath)
		return nil, err
	}
	h, _ := NewHandoff(HandoffConfig{SocketPath: socketPath, FDConn: host})
	return &DataPlane{Handoff: h, socketPath: socketPath, files: []*os.File{lnFile, child}}, nil
}

// listenDataSocket listens on path and returns the listening socket as a
// file; the host's listener itself is closed without unlinking the path.
func listenDataSocket(path string) (*os.File, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("sdk: remove stale data socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("sdk: listen on data socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	f, err := ln.File()
	_ = ln.Close()
	if err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("sdk: data socket file: %w", err)
	}
	return f, nil
}

// handoffPair returns the host's end as a connection and the plugin's end
// as a file. Both are close-on-exec; exec.Cmd.ExtraFiles clears that flag
// for the child's copy only.
func handoffPair() (*net.UnixConn, *os.File, error) {
	typ := syscall.SOCK_SEQPACKET
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		typ = syscall.SOCK_DGRAM // no SOCK_SEQPACKET for AF_UNIX there
	}
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, typ, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("sdk: fd-passing socket pair: %w", err)
	}
	hostFile := os.NewFile(uintptr(fds[0]), "handoff-host")
	c, err := net.FileConn(hostFile)
	_ = hostFile.Close()
	if err != nil {
		_ = syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("sdk: fd-passing socket: %w", err)
	}
	return c.(*net.UnixConn), os.NewFile(uintptr(fds[1]), "handoff-plugin"), nil
}

// openInherited opens the descriptors the host passed the plugin.
func openInherited() (ln net.Listener, pc *net.UnixConn, lifeline *os.File, err error) {
	lnFile := os.NewFile(FDDataListener, "data-socket")
	ln, err = net.FileListener(lnFile)
	_ = lnFile.Close()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("sdk: inherited data socket (fd %d): %w", FDDataListener, err)
	}
	pcFile := os.NewFile(FDHandoff, "handoff")
	c, err := net.FileConn(pcFile)
	_ = pcFile.Close()
	if err != nil {
		_ = ln.Close()
		return nil, nil, nil, fmt.Errorf("sdk: inherited fd-passing socket (fd %d): %w", FDHandoff, err)
	}
	pc, ok := c.(*net.UnixConn)
	if !ok {
		_ = ln.Close()
		_ = c.Close()
		return nil, nil, nil, fmt.Errorf("sdk: inherited fd %d is a %T, want a unix socket", FDHandoff, c)
	}
	return ln, pc, os.NewFile(FDLifeline, "lifeline"), nil
}
