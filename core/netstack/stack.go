package netstack

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	wgtun "golang.zx2c4.com/wireguard/tun"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// DefaultMTU is the overlay MTU.
const DefaultMTU = 1400

// DefaultPrefixLen is the prefix length of the node address on the NIC: a
// node owns the /64 its address is in.
const DefaultPrefixLen = 64

// DefaultQueueLen is the default length of the outbound queue, in packets
// (a GSO super-segment counts as one).
const DefaultQueueLen = 1024

// batchSize is what BatchSize reports: the number of packets the node should
// read or write per call (wireguard-go's conn.IdealBatchSize).
const batchSize = 128

// nicID is the stack's only NIC.
const nicID tcpip.NICID = 1

// overlay is 400::/7, the address space of the overlay.
var overlay = netip.MustParsePrefix("400::/7")

// Config configures a Stack.
type Config struct {
	// Addr is the node's overlay address; it must lie in 400::/7.
	Addr netip.Addr
	// PrefixLen is the prefix length of Addr on the NIC. Zero means
	// DefaultPrefixLen.
	PrefixLen int
	// MTU is the largest packet Read returns. Zero means DefaultMTU.
	MTU int
	// QueueLen bounds the outbound queue in packets. Zero means
	// DefaultQueueLen.
	QueueLen int
	// Logger receives lifecycle messages. Nil discards them.
	Logger *slog.Logger

	// noOffload turns GSO and GRO off (benchmarks compare both).
	noOffload bool
	noGSO     bool
	noGRO     bool
}

func (c Config) withDefaults() Config {
	if c.PrefixLen == 0 {
		c.PrefixLen = DefaultPrefixLen
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.QueueLen == 0 {
		c.QueueLen = DefaultQueueLen
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports whether c, after defaults, describes a usable stack.
func (c Config) Validate() error {
	c = c.withDefaults()
	if !c.Addr.Is6() || c.Addr.Is4In6() || c.Addr.Zone() != "" || !overlay.Contains(c.Addr) {
		return fmt.Errorf("netstack: address %v is not an overlay address in %v", c.Addr, overlay)
	}
	if c.PrefixLen < 7 || c.PrefixLen > 128 {
		return fmt.Errorf("netstack: prefix length %d out of range 7..128", c.PrefixLen)
	}
	if c.MTU < 1280 || c.MTU > 65535 {
		return fmt.Errorf("netstack: mtu %d out of range 1280..65535", c.MTU)
	}
	if c.QueueLen < 1 {
		return fmt.Errorf("netstack: queue length %d must be positive", c.QueueLen)
	}
	return nil
}

// Stack is a userspace TCP/IP stack owning one overlay address. It is a
// tun.Device toward the node and offers Listen, Dial and ListenPacket to
// local code. All methods are safe for concurrent use, except that Read and
// Write each allow one caller at a time (they serialise internally).
type Stack struct {
	cfg    Config
	log    *slog.Logger
	st     *stack.Stack
	link   *linkEndpoint
	addr   tcpip.Address
	events chan wgtun.Event

	rd struct {
		sync.Mutex
		pending []*stack.PacketBuffer // taken from the queue, one reference each
		next    int                   // index of the next pending packet
		seg     segmenter             // the super-segment being split
	}
	wr struct {
		sync.Mutex
		co     coalescer
		batch  [][]byte // scratch for the packets of one Write
		closed bool
	}
	listeners struct {
		sync.Mutex
		m map[listenKey]*listener
	}
	handlers  tracker // SYN handlers running our code
	backlog   int     // accept queue length of new listeners
	closeOnce sync.Once
}

// New builds a stack for cfg. It starts no goroutines of its own; gVisor
// starts its protocol workers, which Close stops.
func New(cfg Config) (*Stack, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Stack{
		cfg:     cfg,
		log:     cfg.Logger,
		link:    newLinkEndpoint(uint32(cfg.MTU), cfg.QueueLen, !cfg.noOffload && !cfg.noGSO),
		addr:    tcpip.AddrFrom16(cfg.Addr.As16()),
		events:  make(chan wgtun.Event, 1),
		backlog: DefaultBacklog,
	}
	s.listeners.m = make(map[listenKey]*listener)
	s.wr.co.enabled = !cfg.noOffload && !cfg.noGRO
	s.wr.batch = make([][]byte, 0, batchSize)
	s.st = stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
		HandleLocal:        true,
	})
	if err := s.configure(); err != nil {
		s.st.Destroy()
		return nil, err
	}
	s.events <- wgtun.EventUp
	s.log.Info("netstack up", "addr", cfg.Addr, "prefix", cfg.PrefixLen, "mtu", cfg.MTU,
		"offload", !cfg.noOffload)
	return s, nil
}

// configure sets TCP options, the NIC, the address and the overlay route.
func (s *Stack) configure() error {
	if err := tuneTCP(s.st); err != nil {
		return err
	}
	if err := s.st.CreateNICWithOptions(nicID, s.link, stack.NICOptions{Name: "overlay"}); err != nil {
		return fmt.Errorf("netstack: create nic: %s", err)
	}
	pa := tcpip.ProtocolAddress{
		Protocol:          ipv6.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: s.addr, PrefixLen: s.cfg.PrefixLen},
	}
	if err := s.st.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err != nil {
		return fmt.Errorf("netstack: add address %v: %s", s.cfg.Addr, err)
	}
	s.st.SetRouteTable([]tcpip.Route{{Destination: prefixSubnet(overlay), NIC: nicID}})
	fwd := tcp.NewForwarder(s.st, 0, maxInFlightSYN, s.handleSYN)
	s.st.SetTransportProtocolHandler(tcp.ProtocolNumber, fwd.HandlePacket)
	return nil
}

// timeWait is how long a connection this side closed first stays in
// TIME_WAIT. gVisor hands a SYN that hits a TIME_WAIT connection only to a
// listening endpoint, never to the forwarder our listeners use, so while
// the old connection waits a new one from the same peer port is silently
// dropped (and the peer retries until TIME_WAIT ends). Linux's 60 s would
// stall such a reconnect for a minute; a second costs at most one SYN
// retransmission. Old duplicates are no real risk on the overlay, whose
// packets are authenticated end to end.
const timeWait = time.Second

// tuneTCP applies the TCP options dependencies.md 3.1 recommends: SACK on
// and larger buffer ranges with receive-buffer auto-tuning. Congestion
// control stays gVisor's default (reno) and RACK loss detection stays on,
// since an overlay mesh reorders packets. TIME_WAIT is shortened (timeWait).
func tuneTCP(st *stack.Stack) error {
	sack := tcpip.TCPSACKEnabled(true)
	rx := tcpip.TCPReceiveBufferSizeRangeOption{Min: tcp.MinBufferSize, Default: tcp.DefaultReceiveBufferSize, Max: 8 << 20}
	tx := tcpip.TCPSendBufferSizeRangeOption{Min: tcp.MinBufferSize, Default: tcp.DefaultSendBufferSize, Max: 6 << 20}
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	tw := tcpip.TCPTimeWaitTimeoutOption(timeWait)
	for _, opt := range []tcpip.SettableTransportProtocolOption{&sack, &rx, &tx, &moderate, &tw} {
		if err := st.SetTransportProtocolOption(tcp.ProtocolNumber, opt); err != nil {
			return fmt.Errorf("netstack: set tcp option %T: %s", opt, err)
		}
	}
	return nil
}

// prefixSubnet converts a netip.Prefix to a gVisor subnet.
func prefixSubnet(p netip.Prefix) tcpip.Subnet {
	return tcpip.AddressWithPrefix{
		Address:   tcpip.AddrFromSlice(p.Addr().AsSlice()),
		PrefixLen: p.Bits(),
	}.Subnet()
}

// Addr returns the node's overlay address.
func (s *Stack) Addr() netip.Addr { return s.cfg.Addr }

// Stats are counters of the stack's device side.
type Stats struct {
	// QueueDrops counts outbound packets dropped because the outbound
	// queue was full (the node read too slowly).
	QueueDrops uint64
}

// Stats returns the current counters.
func (s *Stack) Stats() Stats { return Stats{QueueDrops: s.link.dropped()} }

// Close tears the stack down: listeners and connections are closed, Read and
// Write return os.ErrClosed, and every goroutine the stack or gVisor started
// has exited when Close returns. Close is idempotent.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		s.wr.Lock()
		s.wr.closed = true
		s.wr.Unlock()
		s.closeListeners()
		s.handlers.close()
		s.link.close()
		s.abortUntilIdle()
		s.st.Destroy()
		s.releaseRead()
		close(s.events)
		s.log.Info("netstack closed", "addr", s.cfg.Addr, "queue_drops", s.link.dropped())
	})
	return nil
}

// abortUntilIdle aborts every endpoint until no SYN handler is left. A
// handler may create its endpoint just after an abort pass (and would then
// wait out a handshake), so passes repeat until the handlers are gone.
func (s *Stack) abortUntilIdle() {
	idle := s.handlers.idle()
	for {
		s.st.Close()
		select {
		case <-idle:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// releaseRead drops packets the reader had taken but not delivered.
func (s *Stack) releaseRead() {
	s.rd.Lock()
	defer s.rd.Unlock()
	for _, p := range s.rd.pending[s.rd.next:] {
		p.DecRef()
	}
	s.rd.pending, s.rd.next = nil, 0
	s.rd.seg.stop()
}

// tracker counts goroutines running our code on gVisor's behalf, refuses new
// ones once closed, and lets Close wait for the rest.
type tracker struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// enter registers a goroutine; it returns false once the tracker is closed.
func (t *tracker) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	return true
}

func (t *tracker) leave() { t.wg.Done() }

func (t *tracker) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
}

// idle returns a channel closed once every registered goroutine has left.
func (t *tracker) idle() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		t.wg.Wait()
		close(done)
	}()
	return done
}

// errClosed is returned by operations on a closed stack.
var errClosed = errors.New("netstack: stack closed")
