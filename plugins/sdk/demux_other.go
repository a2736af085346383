//go:build !unix

package sdk

import (
	"errors"
	"net"
)

// ServePackets is not supported on this platform, which cannot pass sockets
// between processes this way; use the splice path (ServeStream).
func (d *Demux) ServePackets(pc *net.UnixConn) error {
	_ = pc.Close()
	return errors.ErrUnsupported
}
