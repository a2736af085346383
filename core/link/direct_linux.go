package link

import (
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxDirectFrames bounds the frames of one direct write (IOV_MAX is 1024).
const maxDirectFrames = 1024

// directWriter lets a sender write frames to a TCP socket from its own
// goroutine, with one non-blocking writev, while the link's writer
// goroutine is idle: no hand-off to the writer, so no wake-up of another
// goroutine and thread per batch, which is most of the latency of a
// lightly loaded link. Whatever the socket does not take at once goes to
// the queue as usual.
type directWriter struct {
	raw syscall.RawConn
	iov []unix.Iovec // owned by the sender holding the queue's direct flag
}

// newDirectWriter returns a directWriter for TCP connections, else nil.
func newDirectWriter(conn net.Conn) *directWriter {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return &directWriter{raw: raw, iov: make([]unix.Iovec, 0, 64)}
}

// write writes what the socket takes of pkts now, without waiting, and
// returns the number of bytes written. A full socket is not an error.
func (d *directWriter) write(pkts [][]byte) (int, error) {
	iov := d.iov[:0]
	for _, p := range pkts {
		v := unix.Iovec{Base: &p[0]}
		v.SetLen(len(p))
		iov = append(iov, v)
	}
	d.iov = iov
	var (
		n     uintptr
		errno syscall.Errno
	)
	err := d.raw.Write(func(fd uintptr) bool {
		n, _, errno = unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		return true // never wait for the socket: the queue does that
	})
	clear(d.iov) // keep no pointers into the caller's buffers
	switch {
	case err != nil:
		return 0, err
	case errno == unix.EAGAIN || errno == unix.EINTR:
		return 0, nil
	case errno != 0:
		return 0, errno
	}
	return int(n), nil
}
