package sdk

import (
	"context"
	"net"
	"sync"
)

// listenerBacklog is how many handed-off connections wait for Accept
// before the demultiplexer's per-connection goroutine blocks.
const listenerBacklog = 16

// serviceListener is the net.Listener a plugin's Serve gets for one
// service. Accept returns *Conn values.
type serviceListener struct {
	service string
	conns   chan *Conn
	done    chan struct{}
	once    sync.Once
	onClose func(*serviceListener)
}

func newServiceListener(service string, onClose func(*serviceListener)) *serviceListener {
	return &serviceListener{
		service: service,
		conns:   make(chan *Conn, listenerBacklog),
		done:    make(chan struct{}),
		onClose: onClose,
	}
}

// Accept waits for the next connection handed to the service. After Close
// it returns net.ErrClosed.
func (l *serviceListener) Accept() (net.Conn, error) {
	select {
	case <-l.done:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops the listener: pending and later Accept calls return
// net.ErrClosed and queued connections are closed. It is idempotent.
func (l *serviceListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.drain()
		if l.onClose != nil {
			l.onClose(l)
		}
	})
	return nil
}

// Addr names the service; the real addresses are in each Conn's Peer.
func (l *serviceListener) Addr() net.Addr { return serviceAddr(l.service) }

// deliver queues c for Accept. It reports false, leaving c to the caller,
// when the listener is closed or ctx ends first.
func (l *serviceListener) deliver(ctx context.Context, c *Conn) bool {
	select {
	case l.conns <- c:
	case <-l.done:
		return false
	case <-ctx.Done():
		return false
	}
	// A Close that raced with the send has already drained; drain again
	// so c is not stranded in the queue.
	select {
	case <-l.done:
		l.drain()
	default:
	}
	return true
}

func (l *serviceListener) drain() {
	for {
		select {
		case c := <-l.conns:
			_ = c.Close()
		default:
			return
		}
	}
}

// serviceAddr is the net.Addr of a service listener.
type serviceAddr string

func (a serviceAddr) Network() string { return "mycelium" }
func (a serviceAddr) String() string  { return string(a) }

var (
	_ net.Listener = (*serviceListener)(nil)
	_ net.Addr     = serviceAddr("")
)
