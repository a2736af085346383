package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// DefaultPreambleTimeout bounds how long the demultiplexer waits for the
// preamble of a spliced connection.
const DefaultPreambleTimeout = 10 * time.Second

// DemuxConfig configures a Demux.
type DemuxConfig struct {
	// Logger receives one line per rejected connection. Nil discards.
	Logger *slog.Logger
	// PreambleTimeout bounds the wait for a spliced connection's preamble;
	// zero means DefaultPreambleTimeout.
	PreambleTimeout time.Duration
}

// Demux is the plugin side of the data plane. It accepts handed-off
// connections from the host, from the data socket (ServeStream) and from
// the fd-passing socket (ServePackets), decodes each preamble, and routes
// the connection by service name to the listener returned by Listen.
// Connections with a bad or missing preamble, or for a service nobody
// listens on, are closed and logged; the Demux keeps serving.
type Demux struct {
	log     *slog.Logger
	timeout time.Duration
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu struct {
		sync.Mutex
		closed    bool
		listeners map[string]*serviceListener
		sources   map[io.Closer]struct{} // stream listeners and packet sockets being served
		pending   map[net.Conn]struct{}  // connections not yet accepted by a service
	}
}

// NewDemux returns a Demux; it serves nothing until ServeStream or
// ServePackets is called.
func NewDemux(cfg DemuxConfig) *Demux {
	d := &Demux{log: cfg.Logger, timeout: cfg.PreambleTimeout}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.timeout <= 0 {
		d.timeout = DefaultPreambleTimeout
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.mu.listeners = map[string]*serviceListener{}
	d.mu.sources = map[io.Closer]struct{}{}
	d.mu.pending = map[net.Conn]struct{}{}
	return d
}

// Listen returns the listener for service. Every connection it accepts is
// a *Conn. Only one listener per service may be open at a time.
func (d *Demux) Listen(service string) (net.Listener, error) {
	if err := ValidateServiceName(service); err != nil {
		return nil, fmt.Errorf("sdk: listen: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.closed {
		return nil, fmt.Errorf("sdk: listen %s: %w", service, net.ErrClosed)
	}
	if _, ok := d.mu.listeners[service]; ok {
		return nil, fmt.Errorf("sdk: listen %s: service already has a listener", service)
	}
	l := newServiceListener(service, d.forget)
	d.mu.listeners[service] = l
	return l, nil
}

func (d *Demux) forget(l *serviceListener) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.listeners[l.service] == l {
		delete(d.mu.listeners, l.service)
	}
}

// ServeStream accepts spliced connections from ln (the data socket): each
// starts with a preamble, read under the preamble timeout. It returns nil
// once ln or the Demux is closed, and closes ln when it returns.
func (d *Demux) ServeStream(ln net.Listener) error {
	if !d.addSource(ln) {
		_ = ln.Close()
		return nil
	}
	defer d.removeSource(ln)
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if d.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of descriptors and the like: wait and retry, as
			// net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			d.log.Warn("data socket accept failed", "error", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !d.track(c) {
			_ = c.Close()
			return nil
		}
		go d.handleStream(c)
	}
}

func (d *Demux) handleStream(c net.Conn) {
	defer d.wg.Done()
	_ = c.SetReadDeadline(time.Now().Add(d.timeout))
	p, err := ReadPreamble(c)
	if err == nil {
		err = c.SetReadDeadline(time.Time{})
	}
	if err != nil {
		d.log.Warn("closing handed-off connection", "path", "splice", "error", err)
		d.untrack(c)
		_ = c.Close()
		return
	}
	d.route(c, p)
}

// route hands c to the listener of p.Service, or closes it.
func (d *Demux) route(c net.Conn, p Peer) {
	defer d.untrack(c)
	d.mu.Lock()
	l := d.mu.listeners[p.Service]
	d.mu.Unlock()
	if l == nil {
		d.log.Warn("closing connection for unknown service", "service", p.Service, "peer", p.Addr.String())
		_ = c.Close()
		return
	}
	if !l.deliver(d.ctx, NewConn(c, p)) {
		_ = c.Close()
	}
}

// track registers a connection whose routing a goroutine will finish; it
// reports false once the Demux is closed.
func (d *Demux) track(c net.Conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.closed {
		return false
	}
	d.wg.Add(1)
	d.mu.pending[c] = struct{}{}
	return true
}

func (d *Demux) untrack(c net.Conn) {
	d.mu.Lock()
	delete(d.mu.pending, c)
	d.mu.Unlock()
}

func (d *Demux) addSource(c io.Closer) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.closed {
		return false
	}
	d.mu.sources[c] = struct{}{}
	return true
}

func (d *Demux) removeSource(c io.Closer) {
	d.mu.Lock()
	delete(d.mu.sources, c)
	d.mu.Unlock()
	_ = c.Close()
}

func (d *Demux) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.closed
}

// Close closes every listener and source, closes connections not yet
// accepted, and waits for the Demux's goroutines. ServeStream and
// ServePackets return nil afterwards. Close is idempotent.
func (d *Demux) Close() error {
	d.mu.Lock()
	if d.mu.closed {
		d.mu.Unlock()
		d.wg.Wait()
		return nil
	}
	d.mu.closed = true
	listeners := make([]*serviceListener, 0, len(d.mu.listeners))
	for _, l := range d.mu.listeners {
		listeners = append(listeners, l)
	}
	for s := range d.mu.sources {
		_ = s.Close()
	}
	for c := range d.mu.pending {
		_ = c.Close()
	}
	d.mu.Unlock()
	d.cancel()
	for _, l := range listeners {
		_ = l.Close()
	}
	d.wg.Wait()
	return nil
}
