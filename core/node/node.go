package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/router"
	"github.com/mycelium-go/mycelium/core/wire"
)

// Buffer layout of a locally originated packet: the IPv6 packet (or
// message frame) is read at headroom, so the user header, data header and
// outer header fit in front of it and the tag and nonce after it; sealing
// then happens in place.
const (
	dataHdrOff = wire.OuterHeaderSize                      // 4
	userHdrOff = dataHdrOff + wire.DataHeaderSize          // 40
	headroom   = userHdrOff + wire.UserHeaderSize          // 44: device read offset
	tailroom   = identity.Overhead                         // 28
	tunOffset  = wire.DataHeaderSize + wire.UserHeaderSize // 40: device write offset
)

// MessageHandler receives message-bus payloads (user header kind 1)
// addressed to this node: the outer source and destination and the
// payload. It runs on the link's reader goroutine; payload is valid only
// during the call.
type MessageHandler func(src, dst netip.Addr, payload []byte)

// Node is one overlay node: it owns a router and the data plane between
// the device and the links. It implements link.Handler; the link manager
// is wired to it by the caller.
type Node struct {
	cfg    Config
	key    *identity.KeyPair
	addr   netip.Addr
	subnet netip.Prefix
	dev    tun.Device // nil in no-TUN mode
	log    *slog.Logger
	r      *router.Router
	q      *pending
	m      Metrics
	bySrc  *ipStats
	byDst  *ipStats
	onMsg  atomic.Pointer[MessageHandler]

	devMu   sync.Mutex // serializes device writes: devices promise one writer
	rxFree  *freeList[rxScratch]
	bufPool sync.Pool // *[]byte send buffers

	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once
}

// New validates cfg and builds a node. dev may be nil (no-TUN mode:
// packets for the device are dropped, the node still routes). The node
// takes ownership of dev and closes it in Close.
func New(cfg Config, dev tun.Device, log *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		return nil, fmt.Errorf("%w: nil logger", ErrConfig)
	}
	n := &Node{
		cfg:    cfg,
		key:    cfg.Key,
		addr:   cfg.Key.Address(),
		subnet: cfg.Key.Subnet(),
		dev:    dev,
		log:    log.With("component", "node"),
		bySrc:  newIPStats(cfg.StatsLimit),
		byDst:  newIPStats(cfg.StatsLimit),
	}
	n.q = newPending(n)
	r, err := router.New(cfg.Router, cfg.Key, n.q, log)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n.r = r
	n.rxFree = newFreeList(maxRxScratch, newRxScratch)
	n.bufPool.New = func() any {
		b := make([]byte, headroom+cfg.MTU+tailroom)
		return &b
	}
	return n, nil
}

// Start runs the router, the device reader and the queue worker until ctx
// ends or Close is called.
func (n *Node) Start(ctx context.Context) error {
	if n.cancel != nil {
		return errors.New("node: already started")
	}
	ctx, n.cancel = context.WithCancel(ctx)
	if err := n.r.Start(ctx); err != nil {
		return fmt.Errorf("node: start router: %w", err)
	}
	if n.cfg.BatchScheduling {
		if err := batchScheduling(); err != nil {
			n.log.Warn("cannot switch to SCHED_BATCH", "err", err)
		}
	}
	if n.dev != nil {
		rd, err := newDeviceReader(n)
		if err != nil {
			n.cancel()
			n.r.Close()
			return err
		}
		n.wg.Go(func() { rd.run(ctx) })
	}
	n.wg.Go(func() { n.q.run(ctx) })
	n.log.Info("node started", "address", n.addr, "subnet", n.subnet, "router_id", n.r.ID().String())
	return nil
}

// Close stops the node, closes the device and waits for every goroutine.
// It is idempotent.
func (n *Node) Close() error {
	var err error
	n.closed.Do(func() {
		if n.cancel != nil {
			n.cancel()
		}
		if n.dev != nil {
			if e := n.dev.Close(); e != nil {
				err = fmt.Errorf("node: close device: %w", e)
			}
		}
		n.r.Close()
		n.wg.Wait()
	})
	return err
}

// Address returns the node's overlay address.
func (n *Node) Address() netip.Addr { return n.addr }

// Subnet returns the node's /64.
func (n *Node) Subnet() netip.Prefix { return n.subnet }

// PublicKey returns the node's public key.
func (n *Node) PublicKey() identity.PublicKey { return n.key.Public() }

// Router returns the node's router, for route and neighbour snapshots.
func (n *Node) Router() *router.Router { return n.r }

// Metrics returns the data-plane counters.
func (n *Node) Metrics() *Metrics { return &n.m }

// PublicKeyOf returns the public key owning addr: our own for our /64,
// else the key bound to the route for addr. It never waits.
func (n *Node) PublicKeyOf(addr netip.Addr) (identity.PublicKey, bool) {
	if n.subnet.Contains(addr) {
		return n.key.Public(), true
	}
	return n.r.PublicKeyOf(addr)
}

// PacketStats returns the bounded per-address traffic statistics.
func (n *Node) PacketStats() PacketStats {
	return PacketStats{
		BySource:      n.bySrc.snapshot(),
		ByDestination: n.byDst.snapshot(),
		Untracked:     n.bySrc.untracked.Load() + n.byDst.untracked.Load(),
	}
}

// Samples returns every router and data-plane counter, plus the routing
// table size, with the reference's metric names where it has them.
func (n *Node) Samples() []router.Sample {
	out := n.r.Metrics().Samples()
	out = append(out, n.m.samples()...)
	return append(out, router.Sample{
		Name: "mycelium_node_route_table_size", Help: "Prefixes in the forwarding table (gauge)", Value: uint64(n.r.Size()),
	})
}

// SetMessageHandler installs the hook for received message-bus payloads.
func (n *Node) SetMessageHandler(h MessageHandler) {
	if h == nil {
		n.onMsg.Store(nil)
		return
	}
	n.onMsg.Store(&h)
}

// LinkUp implements link.Handler.
func (n *Node) LinkUp(l link.Link) {
	n.log.Info("link up", "peer", l.String())
	n.r.LinkUp(l)
}

// LinkDown implements link.Handler.
func (n *Node) LinkDown(l link.Link, err error) {
	n.log.Info("link down", "peer", l.String(), "err", err)
	n.r.LinkDown(l)
}

// HandleControl implements link.Handler: it decodes the TLVs and hands
// them to the router.
func (n *Node) HandleControl(l link.Link, pkt []byte) {
	rd, err := wire.NewControlReader(pkt)
	if err != nil {
		n.m.Malformed.Add(1)
		n.log.Debug("bad control packet", "peer", l.String(), "err", err)
		return
	}
	var t wire.TLV
	for rd.Next(&t) {
		if t.Known() {
			n.r.HandleTLV(l, &t)
		}
	}
	if err := rd.Err(); err != nil {
		n.m.Malformed.Add(1)
		n.log.Debug("bad TLV", "peer", l.String(), "err", err)
	}
}

// HandleData implements link.Handler: it forwards, delivers or reports
// each data packet of the batch, then writes what is for the device in one
// batch. The packets are opened in place.
func (n *Node) HandleData(l link.Link, pkts [][]byte) {
	s := n.rxFree.get()
	s.now = time.Now()
	bytes := 0
	for _, p := range pkts {
		bytes += len(p)
		n.inbound(s, p)
	}
	if nb := n.r.Neighbour(l); nb != nil {
		nb.CountRx(len(pkts), bytes)
	}
	n.flushRx(s)
	n.rxFree.put(s)
}

// writeDevice writes a batch of packets at tunOffset to the device. Links
// deliver concurrently, and the devices allow one writer at a time.
func (n *Node) writeDevice(bufs [][]byte) (int, error) {
	n.devMu.Lock()
	defer n.devMu.Unlock()
	return n.dev.Write(bufs, tunOffset)
}

var _ link.Handler = (*Node)(nil)
