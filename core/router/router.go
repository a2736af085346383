package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/wire"
)

// ErrClosed is returned by queries on a closed router.
var ErrClosed = errors.New("router: closed")

type evKind uint8

const (
	evLinkUp evKind = iota + 1
	evLinkDown
	evTLV
	evWant
	evRefresh
	evCall
	evCost
)

// event is one input to the router goroutine.
type event struct {
	kind   evKind
	nb     *Neighbour
	tlv    wire.TLV
	prefix netip.Prefix
	call   func()
}

// Router runs the Babel subset of the reference (spec §4). One goroutine
// owns the routing state; links feed it through LinkUp, LinkDown and
// HandleTLV, and the data plane reads the forwarding table through
// Lookup, which is lock-free.
type Router struct {
	cfg    Config
	key    *identity.KeyPair
	id     wire.RouterID
	subnet netip.Prefix
	log    *slog.Logger
	obs    Observer
	epoch  time.Time
	m      Metrics
	fib    fib

	// secretFor computes the shared secret for a route list (X25519).
	// Tests replace it to build large tables cheaply.
	secretFor func(identity.PublicKey) ([identity.KeySize]byte, error)

	events chan event
	deaths chan *Neighbour // from the liveness goroutine
	quit   chan struct{}
	stop   sync.Once
	wg     sync.WaitGroup
	cancel context.CancelFunc

	// registry maps links to neighbours for the input fast path (Hello and
	// IHU are handled on the link's goroutine).
	registry struct {
		sync.RWMutex
		byLink map[link.Link]*Neighbour
	}

	// State below is owned by the router goroutine.
	peers    []*Neighbour
	table    map[netip.Prefix]*subnetEntry
	sources  sourceTable
	seqnos   seqnoCache
	rrs      rrCache
	timers   timerHeap
	dirty    []*subnetEntry
	queries  int // Queried subnets in the table
	seqno    wire.SeqNo
	lastBump time.Time
	bumpTm   timer // a deferred seqno bump
	buf      []byte

	costTm        timer        // deferred re-evaluations (linkcost.go)
	costWait      []*Neighbour // neighbours waiting for costTm
	reevaluations uint64       // re-evaluations run, for tests
}

// New validates cfg and returns a router for the node with key pair key.
// obs (may be nil) learns about forwarding changes.
func New(cfg Config, key *identity.KeyPair, obs Observer, log *slog.Logger) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if key == nil {
		return nil, fmt.Errorf("%w: nil key pair", ErrConfig)
	}
	if log == nil {
		return nil, fmt.Errorf("%w: nil logger", ErrConfig)
	}
	now := time.Now()
	r := &Router{
		cfg:     cfg,
		key:     key,
		id:      wire.NewRouterID(key.Public()),
		subnet:  key.Subnet(),
		log:     log.With("component", "router"),
		obs:     obs,
		epoch:   now,
		events:  make(chan event, cfg.EventQueue),
		deaths:  make(chan *Neighbour, 64),
		quit:    make(chan struct{}),
		table:   make(map[netip.Prefix]*subnetEntry),
		sources: make(sourceTable),
		seqnos:  make(seqnoCache),
		rrs:     make(rrCache),
		// Our first seqno bump may happen at once (the reference waits 4 s
		// after start); a restarted node should not wait to be reachable.
		lastBump: now.Add(-cfg.SeqnoBumpInterval),
		buf:      make([]byte, 0, wire.MaxControlPacket),
	}
	r.registry.byLink = make(map[link.Link]*Neighbour)
	r.bumpTm.idx = -1
	r.costTm.idx = -1
	r.secretFor = key.SharedKey
	return r, nil
}

// ID returns the router id (public key, zone, random bytes of this run).
func (r *Router) ID() wire.RouterID { return r.id }

// Subnet returns the node's own /64.
func (r *Router) Subnet() netip.Prefix { return r.subnet }

// Metrics returns the router's counters.
func (r *Router) Metrics() *Metrics { return &r.m }

// Start runs the router goroutine until ctx ends or Close is called.
func (r *Router) Start(ctx context.Context) error {
	select {
	case <-r.quit:
		return ErrClosed
	default:
	}
	if r.cancel != nil {
		return errors.New("router: already started")
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		defer r.stop.Do(func() { close(r.quit) })
		r.run(ctx)
	}()
	go func() {
		defer r.wg.Done()
		r.liveness(ctx)
	}()
	return nil
}

// Close stops the router and waits for its goroutines. It is idempotent.
func (r *Router) Close() error {
	if r.cancel != nil {
		r.cancel()
	}
	r.stop.Do(func() { close(r.quit) })
	r.wg.Wait()
	return nil
}

// Lookup returns the forwarding state of the longest prefix containing
// dst, or nil. It takes no lock, allocates nothing and is safe for
// concurrent use; the result is an immutable snapshot.
func (r *Router) Lookup(dst netip.Addr) *Forward { return r.fib.lookup(dst) }

// Neighbour returns the router's neighbour for l, or nil once it is gone.
func (r *Router) Neighbour(l link.Link) *Neighbour {
	r.registry.RLock()
	nb := r.registry.byLink[l]
	r.registry.RUnlock()
	return nb
}

// LinkUp adds a neighbour (spec §2.2): it gets our own subnet, our pending
// route requests and a first Hello at once.
func (r *Router) LinkUp(l link.Link) {
	nb := newNeighbour(l, r.cfg.InitialLinkCost, time.Now(), r.epoch)
	r.registry.Lock()
	r.registry.byLink[l] = nb
	r.registry.Unlock()
	r.m.PeerAdded.Add(1)
	r.post(event{kind: evLinkUp, nb: nb})
	r.sendHello(nb, time.Now(), make([]byte, 0, wire.MaxControlPacket))
}

// LinkDown removes the neighbour of l; its routes fail over (spec §4.13).
func (r *Router) LinkDown(l link.Link) {
	r.registry.Lock()
	nb := r.registry.byLink[l]
	delete(r.registry.byLink, l)
	r.registry.Unlock()
	if nb == nil {
		return // already declared dead
	}
	nb.dead.Store(true)
	r.post(event{kind: evLinkDown, nb: nb})
}

// HandleTLV processes one TLV received on l. Hello and IHU are handled on
// the caller's goroutine so the IHU reply leaves at once (our processing
// time is part of the peer's link cost for us); the rest is queued for the
// router goroutine. When that queue is full, route and seqno requests and
// Updates with a metric other than 0 are dropped (the reference drops the
// latter two), so a busy router never stalls the link's reader for long:
// only a neighbour's own-subnet Update waits. It must be called from l's
// reader goroutine only.
func (r *Router) HandleTLV(l link.Link, t *wire.TLV) {
	r.m.ReceivedTLVs.Add(1)
	nb := r.Neighbour(l)
	if nb == nil || nb.dead.Load() {
		r.m.TLVSourceDied.Add(1)
		return
	}
	switch t.Type {
	case wire.TLVHello:
		start := time.Now()
		r.m.TLVHello.Add(1)
		ihu := wire.TLV{Type: wire.TLVIHU, IHU: wire.IHU{RxCost: nb.Cost(), Interval: wire.IHUInterval}}
		nb.ihuBuf = wire.AppendControl(nb.ihuBuf[:0], &ihu)
		if err := l.SendControl(nb.ihuBuf); err != nil {
			r.log.Debug("ihu not sent", "peer", l.String(), "err", err)
		}
		r.m.TimeHello.Add(uint64(time.Since(start)))
	case wire.TLVIHU:
		start := time.Now()
		r.m.TLVIHU.Add(1)
		nb.gotIHU(start, r.staleHello())
		if nb.costMoved() && !r.tryPost(event{kind: evCost, nb: nb}) {
			nb.evalQueued.Store(false) // the next IHU tries again
		}
		r.m.TimeIHU.Add(uint64(time.Since(start)))
	case wire.TLVUpdate, wire.TLVRouteRequest, wire.TLVSeqnoRequest:
		ev := event{kind: evTLV, nb: nb, tlv: *t}
		if t.Type != wire.TLVUpdate || t.Update.Metric != 0 {
			select {
			case r.events <- ev:
			default:
				r.m.TLVDiscarded.Add(1)
			}
			return
		}
		r.post(ev)
	}
}

// staleHello is the age after which an unanswered Hello is forgotten.
func (r *Router) staleHello() time.Duration {
	return max(r.cfg.DeadInterval, 4*r.cfg.HelloInterval)
}

// Want asks for a route to dst's /64 (spec §4.10, §6.4 item 6): a route
// request when nothing is known, a seqno request when routes exist but
// none is selected, nothing while a query is in flight. It never blocks;
// the request is dropped when the router is overloaded.
func (r *Router) Want(dst netip.Addr) {
	r.tryPost(event{kind: evWant, prefix: netip.PrefixFrom(dst, identity.SubnetBits).Masked()})
}

// Refresh asks, once per published state, for a fresher route to fw's
// prefix if its selected route expires within the refresh threshold
// (spec §4.14). now is the caller's clock reading.
func (r *Router) Refresh(fw *Forward, now time.Time) {
	if fw == nil || fw.NextHop == nil || fw.Expires.Sub(now) >= r.cfg.RefreshThreshold {
		return
	}
	if fw.refreshed.CompareAndSwap(false, true) {
		if !r.tryPost(event{kind: evRefresh, prefix: fw.Prefix}) {
			fw.refreshed.Store(false)
		}
	}
}

func (r *Router) post(ev event) {
	select {
	case r.events <- ev:
	case <-r.quit:
	}
}

func (r *Router) tryPost(ev event) bool {
	select {
	case r.events <- ev:
		return true
	default:
		return false
	}
}

// do runs fn on the router goroutine and waits for it.
func (r *Router) do(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	ev := event{kind: evCall, call: func() { fn(); close(done) }}
	select {
	case r.events <- ev:
	case <-r.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-r.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the router goroutine.
func (r *Router) run(ctx context.Context) {
	announce := time.NewTicker(r.cfg.UpdateInterval)
	sweep := time.NewTicker(r.cfg.SweepInterval)
	expiry := time.NewTimer(time.Hour)
	defer func() {
		announce.Stop()
		sweep.Stop()
		expiry.Stop()
		r.shutdown()
	}()
	lastSeqnoSweep, lastSourceSweep := time.Now(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-r.events:
			r.handle(ev)
		case nb := <-r.deaths:
			r.removePeer(nb)
		case <-announce.C:
			r.announceOwn(r.peers)
		case now := <-sweep.C:
			r.rrs.sweep(now, r.cfg.RouteRequestTTL)
			if now.Sub(lastSeqnoSweep) >= r.cfg.SeqnoCacheTTL {
				r.seqnos.sweep(now, r.cfg.SeqnoCacheTTL)
				lastSeqnoSweep = now
			}
			if now.Sub(lastSourceSweep) >= time.Minute {
				r.m.SourceKeyExpired.Add(uint64(r.sources.sweep(now, r.cfg.SourceGC)))
				lastSourceSweep = now
			}
		case <-expiry.C:
			r.fireTimers(time.Now())
		}
		r.flush()
		if at, ok := r.timers.next(); ok {
			expiry.Reset(max(time.Until(at), 0))
		}
	}
}

// shutdown closes the links of every neighbour's state we hold; the links
// themselves belong to their manager, so only our view is dropped.
func (r *Router) shutdown() {
	for _, nb := range r.peers {
		nb.dead.Store(true)
	}
}

func (r *Router) handle(ev event) {
	switch ev.kind {
	case evLinkUp:
		r.addPeer(ev.nb)
	case evLinkDown:
		r.removePeer(ev.nb)
	case evTLV:
		if ev.nb.dead.Load() {
			r.m.TLVSourceDied.Add(1)
			return
		}
		r.handleTLV(ev.nb, &ev.tlv)
	case evWant:
		r.want(ev.prefix)
	case evRefresh:
		r.originateRouteRequest(ev.prefix, false)
	case evCall:
		ev.call()
	case evCost:
		r.costChanged(ev.nb, time.Now())
	}
}

func (r *Router) handleTLV(nb *Neighbour, t *wire.TLV) {
	start := time.Now()
	switch t.Type {
	case wire.TLVUpdate:
		r.m.TLVUpdate.Add(1)
		r.handleUpdate(nb, &t.Update, start)
		r.m.TimeUpdate.Add(uint64(time.Since(start)))
	case wire.TLVRouteRequest:
		if t.RouteRequest.Wildcard() {
			r.m.TLVWildcardRequest.Add(1)
		} else {
			r.m.TLVRouteRequest.Add(1)
		}
		r.handleRouteRequest(nb, &t.RouteRequest, start)
		r.m.TimeRouteRequest.Add(uint64(time.Since(start)))
	case wire.TLVSeqnoRequest:
		r.m.TLVSeqnoRequest.Add(1)
		r.handleSeqnoRequest(nb, &t.SeqnoRequest, start)
		r.m.TimeSeqnoRequest.Add(uint64(time.Since(start)))
	}
}

// send encodes t and queues it on nb's link.
func (r *Router) send(nb *Neighbour, t *wire.TLV) {
	if nb.dead.Load() {
		if t.Type == wire.TLVUpdate {
			r.m.UpdateDeadPeer.Add(1)
		}
		return
	}
	r.buf = wire.AppendControl(r.buf[:0], t)
	if err := nb.link.SendControl(r.buf); err != nil {
		r.log.Debug("control packet not sent", "peer", nb.link.String(), "type", t.Type, "err", err)
	}
}

// addPeer runs the link-up actions of spec §2.2, and asks the neighbour
// for its routes when we have any (wildcardRequest).
func (r *Router) addPeer(nb *Neighbour) {
	if nb.dead.Load() {
		return
	}
	r.peers = append(r.peers, nb)
	r.log.Debug("peer added", "peer", nb.link.String())
	r.announceOwn([]*Neighbour{nb})
	for p, e := range r.table {
		if e.queried && !e.hasRoutes() {
			r.send(nb, &wire.TLV{Type: wire.TLVRouteRequest, RouteRequest: wire.RouteRequest{Prefix: p}})
		}
	}
	if r.haveRoutes() {
		r.wildcardRequest(nb)
	}
}
