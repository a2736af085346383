//go:build unix

package sdk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

func canPassFD(c net.Conn) bool {
	switch c := c.(type) {
	case *net.TCPConn:
		return true
	case *net.UnixConn:
		return c.LocalAddr().Network() == "unix"
	}
	return false
}

// PassFD sends c's descriptor to the plugin over the fd-passing socket,
// with the preamble for p as the message payload. It takes ownership of c
// and closes the host's copy in every case: on success the plugin holds
// the connection. c must be a kernel stream socket (*net.TCPConn or a
// stream *net.UnixConn); anything else fails with ErrNoFDPassing.
func (h *Handoff) PassFD(ctx context.Context, c net.Conn, p Peer) error {
	err := h.passFD(ctx, c, p)
	if errors.Is(err, ErrNotDelivered) {
		_ = c.Close()
	}
	return err
}

// passFD is PassFD, except that it leaves c open when the descriptor could
// not be sent to the plugin (the error wraps ErrNotDelivered).
func (h *Handoff) passFD(ctx context.Context, c net.Conn, p Peer) error {
	if h.fdConn == nil || !canPassFD(c) {
		_ = c.Close()
		return ErrNoFDPassing
	}
	pre, err := EncodePreamble(p)
	if err != nil {
		_ = c.Close()
		return fmt.Errorf("sdk: pass fd: %w", err)
	}
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		_ = c.Close()
		return fmt.Errorf("sdk: pass fd: %w", err)
	}
	dl := time.Now().Add(h.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	if err := ctx.Err(); err != nil {
		return notDelivered{fmt.Errorf("sdk: pass fd: %w", err)}
	}
	h.fdMu.Lock()
	defer h.fdMu.Unlock()
	_ = h.fdConn.SetWriteDeadline(dl)
	var sendErr error
	err = raw.Control(func(fd uintptr) {
		_, _, sendErr = h.fdConn.WriteMsgUnix(pre, syscall.UnixRights(int(fd)), nil)
	})
	if err == nil {
		err = sendErr
	}
	if err != nil {
		// A failed sendmsg passed no descriptor.
		return notDelivered{fmt.Errorf("sdk: pass fd: %w", err)}
	}
	// The plugin holds the connection now; the host's copy goes.
	_ = c.Close()
	return nil
}
