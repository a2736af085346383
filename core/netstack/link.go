package netstack

import (
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// gsoMaxSize is the largest TCP super-segment the stack may hand the link.
const gsoMaxSize = 1 << 16

// linkEndpoint is the NIC's link layer: outbound packets wait in a bounded
// queue until the node reads them; inbound packets are delivered by Write
// through the dispatcher saved by Attach. There is no link header and no
// neighbour resolution.
type linkEndpoint struct {
	mtu uint32
	gso bool // offer host GSO to the stack

	mu struct {
		sync.RWMutex
		dispatcher stack.NetworkDispatcher
	}

	q struct {
		sync.Mutex
		pkts   []*stack.PacketBuffer // FIFO in pkts[head:], one reference each
		head   int
		closed bool
	}
	limit   int           // maximum queued packets
	notify  chan struct{} // capacity 1: the queue went from empty to non-empty
	closing chan struct{} // closed by close
	drops   uint64        // guarded by q
}

func newLinkEndpoint(mtu uint32, queueLen int, gso bool) *linkEndpoint {
	e := &linkEndpoint{
		mtu:     mtu,
		gso:     gso,
		limit:   queueLen,
		notify:  make(chan struct{}, 1),
		closing: make(chan struct{}),
	}
	e.q.pkts = make([]*stack.PacketBuffer, 0, queueLen)
	return e
}

// WritePackets queues outbound packets for the node. It never blocks: the
// stack calls it from its own goroutines, which the node may be waiting on
// while it writes inbound packets. When the queue is full the oldest queued
// packet is dropped to make room (head drop): TCP then sees the packets
// after the hole arrive, and SACK repairs the loss quickly, where dropping
// the newest packets of a burst would leave a tail loss that only a
// retransmission timeout repairs.
func (e *linkEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	e.q.Lock()
	if e.q.closed {
		e.q.Unlock()
		return 0, &tcpip.ErrClosedForSend{}
	}
	wasEmpty := len(e.q.pkts) == e.q.head
	n := 0
	for _, pkt := range pkts.AsSlice() {
		if len(e.q.pkts)-e.q.head >= e.limit {
			e.q.pkts[e.q.head].DecRef()
			e.q.pkts[e.q.head] = nil
			e.q.head++
			e.drops++
		}
		if len(e.q.pkts) == cap(e.q.pkts) && e.q.head > 0 {
			live := copy(e.q.pkts, e.q.pkts[e.q.head:])
			clear(e.q.pkts[live:])
			e.q.pkts, e.q.head = e.q.pkts[:live], 0
		}
		e.q.pkts = append(e.q.pkts, pkt.IncRef())
		n++
	}
	e.q.Unlock()
	if wasEmpty && n > 0 {
		select {
		case e.notify <- struct{}{}:
		default:
		}
	}
	return n, nil
}

// swap moves every queued packet to the end of dst and returns it; the
// caller owns their references.
func (e *linkEndpoint) swap(dst []*stack.PacketBuffer) []*stack.PacketBuffer {
	e.q.Lock()
	dst = append(dst, e.q.pkts[e.q.head:]...)
	clear(e.q.pkts)
	e.q.pkts, e.q.head = e.q.pkts[:0], 0
	e.q.Unlock()
	return dst
}

// close stops the queue, releases queued packets and wakes the reader.
func (e *linkEndpoint) close() {
	e.q.Lock()
	if e.q.closed {
		e.q.Unlock()
		return
	}
	e.q.closed = true
	for _, p := range e.q.pkts[e.q.head:] {
		p.DecRef()
	}
	e.q.pkts, e.q.head = nil, 0
	e.q.Unlock()
	close(e.closing)
}

// dropped returns how many queued packets were dropped to make room.
func (e *linkEndpoint) dropped() uint64 {
	e.q.Lock()
	defer e.q.Unlock()
	return e.drops
}

func (e *linkEndpoint) dispatcher() stack.NetworkDispatcher {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.mu.dispatcher
}

// Attach implements stack.NetworkLinkEndpoint.
func (e *linkEndpoint) Attach(d stack.NetworkDispatcher) {
	e.mu.Lock()
	e.mu.dispatcher = d
	e.mu.Unlock()
}

// IsAttached implements stack.NetworkLinkEndpoint.
func (e *linkEndpoint) IsAttached() bool { return e.dispatcher() != nil }

// MTU implements stack.NetworkLinkEndpoint.
func (e *linkEndpoint) MTU() uint32 { return e.mtu }

// SetMTU implements stack.NetworkLinkEndpoint; the overlay MTU is fixed.
func (e *linkEndpoint) SetMTU(uint32) {}

// MaxHeaderLength implements stack.NetworkLinkEndpoint: no link header.
func (e *linkEndpoint) MaxHeaderLength() uint16 { return 0 }

// LinkAddress implements stack.NetworkLinkEndpoint: no link address.
func (e *linkEndpoint) LinkAddress() tcpip.LinkAddress { return "" }

// SetLinkAddress implements stack.NetworkLinkEndpoint.
func (e *linkEndpoint) SetLinkAddress(tcpip.LinkAddress) {}

// Capabilities implements stack.NetworkLinkEndpoint. Outbound checksums are
// computed by the stack (and by Read for GSO segments). Inbound checksums
// are verified by Write before the stack sees a packet (rxChecksumOK), so
// the stack need not repeat it; gVisor's GRO requires this setting.
func (e *linkEndpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityRXChecksumOffload
}

// Wait implements stack.NetworkLinkEndpoint: the endpoint has no goroutines.
func (e *linkEndpoint) Wait() {}

// ARPHardwareType implements stack.NetworkLinkEndpoint.
func (e *linkEndpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareNone }

// AddHeader implements stack.NetworkLinkEndpoint: no link header.
func (e *linkEndpoint) AddHeader(*stack.PacketBuffer) {}

// ParseHeader implements stack.NetworkLinkEndpoint: no link header.
func (e *linkEndpoint) ParseHeader(*stack.PacketBuffer) bool { return true }

// Close implements stack.NetworkLinkEndpoint; called when the NIC goes.
func (e *linkEndpoint) Close() { e.close() }

// SetOnCloseAction implements stack.NetworkLinkEndpoint.
func (e *linkEndpoint) SetOnCloseAction(func()) {}

// GSOMaxSize implements stack.GSOEndpoint.
func (e *linkEndpoint) GSOMaxSize() uint32 {
	if e.gso {
		return gsoMaxSize
	}
	return 0
}

// SupportedGSO implements stack.GSOEndpoint. "Host" GSO means the stack
// leaves segmentation and the TCP checksum to the link, which is Read here.
func (e *linkEndpoint) SupportedGSO() stack.SupportedGSO {
	if e.gso {
		return stack.HostGSOSupported
	}
	return stack.GSONotSupported
}

var (
	_ stack.LinkEndpoint = (*linkEndpoint)(nil)
	_ stack.GSOEndpoint  = (*linkEndpoint)(nil)
)
