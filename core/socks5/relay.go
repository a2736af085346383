package socks5

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// relayBufSize is the copy buffer per direction.
const relayBufSize = 32 << 10

var relayBufs = sync.Pool{New: func() any { b := make([]byte, relayBufSize); return &b }}

// errIdle ends a relay that saw no data for the idle timeout.
var errIdle = errors.New("socks5: connection idle")

// relay copies between client and remote in both directions until both
// have ended. An EOF in one direction is passed on as a half-close
// (CloseWrite) so the other direction keeps flowing; an error or the idle
// timeout in either direction closes both connections.
func (s *Server) relay(client, remote net.Conn) {
	idle := s.idleTimeout()
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	done := make(chan error, 1)
	go func() { done <- pipe(remote, client, idle, &last) }()
	err := pipe(client, remote, idle, &last)
	if err != nil {
		client.Close()
		remote.Close()
	}
	if err2 := <-done; err2 != nil && err == nil {
		client.Close()
		remote.Close()
	}
}

// pipe copies src to dst until src ends. On EOF it half-closes dst and
// returns nil. last holds the time of the latest data in either direction,
// so one busy direction keeps an idle one alive.
func pipe(dst, src net.Conn, idle time.Duration, last *atomic.Int64) error {
	bp := relayBufs.Get().(*[]byte)
	defer relayBufs.Put(bp)
	buf := *bp
	for {
		if idle > 0 {
			src.SetReadDeadline(time.Now().Add(idle))
		}
		n, err := src.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			if idle > 0 {
				dst.SetWriteDeadline(time.Now().Add(idle))
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			closeWrite(dst)
			return nil
		case isTimeout(err) && time.Since(time.Unix(0, last.Load())) < idle:
			// The other direction is active; keep waiting.
		case isTimeout(err):
			return errIdle
		default:
			return err
		}
	}
}

// isTimeout reports whether err is a deadline expiry (kernel sockets return
// os.ErrDeadlineExceeded, gVisor's gonet a net.Error with Timeout).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// closeWrite half-closes c if it can, or closes it.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}
