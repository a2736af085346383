//go:build !unix

package sdk

import (
	"context"
	"net"
)

func canPassFD(net.Conn) bool { return false }

// PassFD is not supported on this platform; it closes c and returns
// ErrNoFDPassing.
func (h *Handoff) PassFD(_ context.Context, c net.Conn, _ Peer) error {
	_ = c.Close()
	return ErrNoFDPassing
}

func (h *Handoff) passFD(_ context.Context, c net.Conn, _ Peer) error {
	_ = c.Close()
	return ErrNoFDPassing
}
