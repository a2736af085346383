package message

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/wire"
)

// Transport carries message frames to other nodes: the node's data plane.
type Transport interface {
	// SendMessage sends frame to dst as the payload of a kind-1 data
	// packet. It must not block (under back-pressure it drops the frame
	// and returns an error, which the bus treats as a loss), must not call
	// back into the bus synchronously, and must copy frame before
	// returning. Safe for concurrent use.
	SendMessage(dst netip.Addr, frame []byte) error
}

// KeyLookup finds the public key of the node that owns an overlay
// address (from routing state).
type KeyLookup interface {
	PublicKeyOf(addr netip.Addr) (identity.PublicKey, bool)
}

// Bus is the message bus of one node. Create it with New, then Start it;
// Close stops it. All methods are safe for concurrent use.
type Bus struct {
	cfg    Config
	addr   netip.Addr
	tr     Transport
	keys   KeyLookup
	log    *slog.Logger
	topics *topics
	inbox  *inbox
	c      counters
	paths  paths

	out struct {
		mu sync.Mutex
		m  map[wire.MessageID]*outbound
		// active and activeBytes count unfinished transfers.
		active      int
		activeBytes int64
	}
	in struct {
		mu     sync.Mutex
		m      map[inKey]*pending
		recent recentSet
	}
	waiters struct {
		mu sync.Mutex
		m  map[wire.MessageID]*waiter
	}

	local  chan localFrame
	fwdSem chan struct{}

	life struct {
		mu      sync.Mutex
		ctx     context.Context
		cancel  context.CancelFunc
		started bool
		closed  bool
	}
	done chan struct{}
	wg   sync.WaitGroup
}

type localFrame struct {
	dst   netip.Addr
	frame []byte
}

// New validates cfg and returns a bus that sends through tr and looks
// keys up in keys.
func New(cfg Config, tr Transport, keys KeyLookup, log *slog.Logger) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if tr == nil || keys == nil || log == nil {
		return nil, fmt.Errorf("%w: nil transport, key lookup or logger", ErrConfig)
	}
	b := &Bus{
		cfg:    cfg,
		addr:   cfg.Key.Address(),
		tr:     tr,
		keys:   keys,
		log:    log.With("component", "message"),
		topics: newTopics(cfg.Topics),
		inbox:  newInbox(&cfg),
		local:  make(chan localFrame, 4096),
		fwdSem: make(chan struct{}, cfg.MaxForwards),
		done:   make(chan struct{}),
	}
	b.out.m = make(map[wire.MessageID]*outbound)
	b.in.m = make(map[inKey]*pending)
	b.in.recent = newRecentSet(4096)
	b.waiters.m = make(map[wire.MessageID]*waiter)
	b.paths.m = make(map[netip.Prefix]rttSeed)
	return b, nil
}

// Start runs the bus's background work (loopback delivery, expiry) until
// ctx ends or Close is called.
func (b *Bus) Start(ctx context.Context) error {
	b.life.mu.Lock()
	defer b.life.mu.Unlock()
	if b.life.closed {
		return ErrClosed
	}
	if b.life.started {
		return errors.New("message: bus already started")
	}
	b.life.ctx, b.life.cancel = context.WithCancel(ctx)
	b.life.started = true
	b.wg.Add(2)
	go b.runLocal(b.life.ctx)
	go b.runJanitor(b.life.ctx)
	return nil
}

// Close stops every transfer and background goroutine and waits for them.
// Waiting Pop and PushWait calls return.
func (b *Bus) Close() error {
	b.life.mu.Lock()
	if b.life.closed {
		b.life.mu.Unlock()
		return nil
	}
	b.life.closed = true
	if b.life.cancel != nil {
		b.life.cancel()
	}
	close(b.done)
	b.life.mu.Unlock()
	b.wg.Wait()
	return nil
}

// spawn runs f in a goroutine owned by the bus, unless the bus is not
// running.
func (b *Bus) spawn(f func(ctx context.Context)) error {
	b.life.mu.Lock()
	defer b.life.mu.Unlock()
	switch {
	case b.life.closed:
		return ErrClosed
	case !b.life.started:
		return ErrNotStarted
	}
	ctx := b.life.ctx
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f(ctx)
	}()
	return nil
}

// Address is the node's overlay address.
func (b *Bus) Address() netip.Addr { return b.addr }

// send delivers one frame: to the loopback queue for our own /64, else
// through the transport.
func (b *Bus) send(dst netip.Addr, frame []byte) error {
	if identity.SameSubnet(dst, b.addr) {
		select {
		case b.local <- localFrame{dst: dst, frame: append([]byte(nil), frame...)}:
			b.c.framesOut.Add(1)
			return nil
		default:
			b.c.sendErrors.Add(1)
			return errors.New("message: loopback queue full")
		}
	}
	if err := b.tr.SendMessage(dst, frame); err != nil {
		b.c.sendErrors.Add(1)
		return err
	}
	b.c.framesOut.Add(1)
	return nil
}

func (b *Bus) runLocal(ctx context.Context) {
	defer b.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-b.local:
			b.Handle(b.addr, f.dst, f.frame)
		}
	}
}

// janitorEvery is how often expiry runs, derived from the timeouts.
func (b *Bus) janitorEvery() time.Duration {
	return min(max(b.cfg.PendingTimeout/4, 10*time.Millisecond), time.Second)
}

func (b *Bus) runJanitor(ctx context.Context) {
	defer b.wg.Done()
	t := time.NewTicker(b.janitorEvery())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			b.expirePending(now)
			b.expireStatus(now)
		}
	}
}

func newID() wire.MessageID {
	var id wire.MessageID
	rand.Read(id[:])
	return id
}

// paths remembers the RTT measured to each destination /64, so a new
// transfer starts with a realistic timeout.
type paths struct {
	mu sync.Mutex
	m  map[netip.Prefix]rttSeed
}

type rttSeed struct{ srtt, rttvar time.Duration }

const maxPaths = 4096

func (p *paths) get(dst netip.Addr) (rttSeed, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.m[identity.SubnetOfAddr(dst)]
	return s, ok
}

func (p *paths) put(dst netip.Addr, s rttSeed) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.m) >= maxPaths {
		clear(p.m)
	}
	p.m[identity.SubnetOfAddr(dst)] = s
}
