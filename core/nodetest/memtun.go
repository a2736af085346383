package nodetest

import (
	"context"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"golang.zx2c4.com/wireguard/tun"
)

// Device is an in-memory tun.Device. Tests Inject packets as if the OS
// sent them into the interface and read what the node writes from Out.
type Device struct {
	mtu, batch int
	in         chan []byte
	out        chan []byte
	events     chan tun.Event
	closed     chan struct{}
	once       sync.Once
	dropped    atomic.Uint64
}

// NewDevice returns a device with the given MTU and batch size.
func NewDevice(mtu, batch int) *Device {
	d := &Device{
		mtu:    mtu,
		batch:  batch,
		in:     make(chan []byte, 1024),
		out:    make(chan []byte, 4096),
		events: make(chan tun.Event, 1),
		closed: make(chan struct{}),
	}
	d.events <- tun.EventUp
	return d
}

// Inject queues a packet for the node to read, as the OS would send it.
// The packet is copied.
func (d *Device) Inject(ctx context.Context, pkt []byte) error {
	select {
	case d.in <- slices.Clone(pkt):
		return nil
	case <-d.closed:
		return os.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Out delivers the packets the node wrote, one copy each. When the reader
// falls behind by more than 4096 packets, packets are dropped (see
// Dropped), as a real interface would.
func (d *Device) Out() <-chan []byte { return d.out }

// Dropped counts packets the node wrote that Out had no room for.
func (d *Device) Dropped() uint64 { return d.dropped.Load() }

// Done is closed when the device is closed.
func (d *Device) Done() <-chan struct{} { return d.closed }

// File implements tun.Device; there is none.
func (d *Device) File() *os.File { return nil }

// Read implements tun.Device: it blocks for one packet, then takes what
// else is queued up to len(bufs).
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	var p []byte
	select {
	case p = <-d.in:
	case <-d.closed:
		return 0, os.ErrClosed
	}
	n := 0
	for {
		sizes[n] = copy(bufs[n][offset:], p)
		n++
		if n == len(bufs) {
			return n, nil
		}
		select {
		case p = <-d.in:
		default:
			return n, nil
		}
	}
}

// Write implements tun.Device. It is safe for concurrent use.
func (d *Device) Write(bufs [][]byte, offset int) (int, error) {
	select {
	case <-d.closed:
		return 0, os.ErrClosed
	default:
	}
	for _, b := range bufs {
		select {
		case d.out <- slices.Clone(b[offset:]):
		default:
			d.dropped.Add(1)
		}
	}
	return len(bufs), nil
}

// MTU implements tun.Device.
func (d *Device) MTU() (int, error) { return d.mtu, nil }

// Name implements tun.Device.
func (d *Device) Name() (string, error) { return "memtun", nil }

// Events implements tun.Device.
func (d *Device) Events() <-chan tun.Event { return d.events }

// BatchSize implements tun.Device.
func (d *Device) BatchSize() int { return d.batch }

// Close implements tun.Device. It is idempotent.
func (d *Device) Close() error {
	d.once.Do(func() {
		close(d.closed)
		close(d.events)
	})
	return nil
}

var _ tun.Device = (*Device)(nil)
