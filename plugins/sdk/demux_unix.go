//go:build unix

package sdk

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// maxPassedFDs is how many descriptors one fd-passing message may carry
// before the excess is cut off by the kernel; any count but one is an
// error, and every received descriptor is closed.
const maxPassedFDs = 4

// ServePackets receives connections passed as descriptors over pc, the
// plugin's end of the fd-passing socket pair: each message carries one
// preamble as its payload and one connected socket in SCM_RIGHTS. It
// returns nil once pc or the Demux is closed or the host closes its end,
// and closes pc when it returns.
func (d *Demux) ServePackets(pc *net.UnixConn) error {
	if !d.addSource(pc) {
		_ = pc.Close()
		return nil
	}
	defer d.removeSource(pc)
	buf := make([]byte, MaxPreambleLen+1)
	oob := make([]byte, syscall.CmsgSpace(maxPassedFDs*4))
	for {
		n, oobn, flags, _, err := pc.ReadMsgUnix(buf, oob)
		if err != nil {
			if d.isClosed() || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("sdk: receive handed-off descriptor: %w", err)
		}
		c, p, err := d.receivePassed(buf[:n], oob[:oobn], flags)
		if err != nil {
			d.log.Warn("closing handed-off connection", "path", "fd", "error", err)
			continue
		}
		if !d.track(c) {
			_ = c.Close()
			return nil
		}
		go func() {
			defer d.wg.Done()
			d.route(c, p)
		}()
	}
}

// receivePassed turns one fd-passing message into a connection and its
// peer. On error every descriptor it carried is closed.
func (d *Demux) receivePassed(payload, oob []byte, flags int) (net.Conn, Peer, error) {
	fds, err := parseRights(oob)
	if err != nil {
		return nil, Peer{}, err
	}
	fail := func(err error) (net.Conn, Peer, error) {
		for _, fd := range fds {
			_ = syscall.Close(fd)
		}
		return nil, Peer{}, err
	}
	switch {
	case flags&syscall.MSG_CTRUNC != 0:
		return fail(errors.New("control data truncated: too many descriptors"))
	case flags&syscall.MSG_TRUNC != 0:
		return fail(fmt.Errorf("%w: message exceeds %d bytes", ErrBadPreamble, MaxPreambleLen))
	case len(fds) != 1:
		return fail(fmt.Errorf("message carries %d descriptors, want 1", len(fds)))
	}
	p, err := DecodePreamble(payload)
	if err != nil {
		return fail(err)
	}
	f := os.NewFile(uintptr(fds[0]), "handed-off")
	c, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		return nil, Peer{}, fmt.Errorf("wrap passed descriptor: %w", err)
	}
	switch c.(type) {
	case *net.TCPConn, *net.UnixConn:
		if c.LocalAddr().Network() == "unixgram" || c.LocalAddr().Network() == "unixpacket" {
			_ = c.Close()
			return nil, Peer{}, fmt.Errorf("passed descriptor is a %s socket, want a stream", c.LocalAddr().Network())
		}
		return c, p, nil
	default:
		_ = c.Close()
		return nil, Peer{}, fmt.Errorf("passed descriptor is a %T, want a stream socket", c)
	}
}

// parseRights returns the descriptors in SCM_RIGHTS messages of oob.
func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		if m.Header.Level != syscall.SOL_SOCKET || m.Header.Type != syscall.SCM_RIGHTS {
			continue
		}
		got, err := syscall.ParseUnixRights(&m)
		if err != nil {
			for _, fd := range fds {
				_ = syscall.Close(fd)
			}
			return nil, fmt.Errorf("parse SCM_RIGHTS: %w", err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}
