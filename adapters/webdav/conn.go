package webdav

import (
	"errors"
	"io"
	"net"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// fastListener wraps each accepted connection in a fastConn.
type fastListener struct{ net.Listener }

func (l fastListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return fastConn{c}, nil
}

// fastConn lets net/http reach the kernel socket under an sdk.Conn: the
// response writer hands a file to ReadFrom, which on a TCP socket is
// sendfile(2), so GET of a large file is not copied through user space.
// NetConn keeps the peer identity reachable for sdk.PeerOf.
type fastConn struct{ net.Conn }

// NetConn returns the wrapped connection.
func (c fastConn) NetConn() net.Conn { return c.Conn }

// ReadFrom copies r to the connection, with sendfile/splice when the
// socket underneath supports it.
func (c fastConn) ReadFrom(r io.Reader) (int64, error) {
	if sc, ok := c.Conn.(*sdk.Conn); ok {
		if rf, ok := sc.Conn.(io.ReaderFrom); ok {
			return rf.ReadFrom(r)
		}
	}
	return io.Copy(writerOnly{c.Conn}, r)
}

// CloseWrite half-closes the connection when the one underneath can.
func (c fastConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// writerOnly hides ReadFrom so io.Copy does not recurse.
type writerOnly struct{ io.Writer }

var (
	_ io.ReaderFrom = fastConn{}
	_ net.Listener  = fastListener{}
)
