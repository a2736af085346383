//go:build !unix

package sdk

import (
	"errors"
	"net"
	"os"
)

// NewDataPlane is not supported on this platform: a plugin cannot inherit
// sockets here.
func NewDataPlane(string) (*DataPlane, error) {
	return nil, errors.ErrUnsupported
}

func openInherited() (net.Listener, *net.UnixConn, *os.File, error) {
	return nil, nil, nil, errors.ErrUnsupported
}
