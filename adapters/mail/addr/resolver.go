package addr

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// ErrNotMesh is returned for a domain that is neither a canonical node
// domain nor a configured alias: mail to it cannot be delivered (the node
// is no Internet relay).
var ErrNotMesh = errors.New("not a mesh mail domain")

// KeyAddresser turns a node key into its overlay address; sdk.Host
// implements it.
type KeyAddresser interface {
	AddressOf(ctx context.Context, key sdk.PublicKey) (netip.Addr, error)
}

// Kind classifies a domain from the local node's point of view.
type Kind int

const (
	KindUnknown Kind = iota // neither local nor a mesh domain
	KindLocal               // one of this node's own domains
	KindRemote              // another node's canonical domain or alias
)

// Resolver knows this node's domains and the configured aliases. It is
// safe for concurrent use.
type Resolver struct {
	selfKey   sdk.PublicKey
	selfAddr  netip.Addr
	canonical string
	aliases   map[string]sdk.PublicKey
	keys      KeyAddresser

	mu    sync.Mutex
	cache map[sdk.PublicKey]netip.Addr // alias key -> address, filled lazily
}

// NewResolver returns a resolver for the node with key selfKey and overlay
// address selfAddr. aliases maps lowercase domains to node keys; keys
// resolves alias keys to addresses.
func NewResolver(selfKey sdk.PublicKey, selfAddr netip.Addr, aliases map[string]sdk.PublicKey, keys KeyAddresser) (*Resolver, error) {
	if !selfAddr.Is6() {
		return nil, fmt.Errorf("new resolver: node address %v is not IPv6", selfAddr)
	}
	if keys == nil {
		return nil, errors.New("new resolver: nil key addresser")
	}
	r := &Resolver{
		selfKey:   selfKey,
		selfAddr:  selfAddr,
		canonical: CanonicalDomain(selfAddr),
		aliases:   make(map[string]sdk.PublicKey, len(aliases)),
		keys:      keys,
		cache:     make(map[sdk.PublicKey]netip.Addr),
	}
	for d, k := range aliases {
		nd, err := ParseDomain(d)
		if err != nil {
			return nil, fmt.Errorf("new resolver: alias %q: %w", d, err)
		}
		if _, ok := ParseCanonicalDomain(nd); ok {
			return nil, fmt.Errorf("new resolver: alias %q must not be a canonical node domain", d)
		}
		r.aliases[nd] = k
	}
	return r, nil
}

// Canonical returns this node's canonical mail domain.
func (r *Resolver) Canonical() string { return r.canonical }

// LocalDomains returns the canonical domain first, then the aliases that
// point at this node's key, sorted.
func (r *Resolver) LocalDomains() []string {
	var al []string
	for d, k := range r.aliases {
		if k == r.selfKey {
			al = append(al, d)
		}
	}
	sort.Strings(al)
	return append([]string{r.canonical}, al...)
}

// Classify says whether domain d (already normalised by ParseDomain) is
// local, another node's, or unknown.
func (r *Resolver) Classify(d string) Kind {
	if a, ok := ParseCanonicalDomain(d); ok {
		if a == r.selfAddr {
			return KindLocal
		}
		return KindRemote
	}
	if k, ok := r.aliases[d]; ok {
		if k == r.selfKey {
			return KindLocal
		}
		return KindRemote
	}
	return KindUnknown
}

// Route returns the overlay address of the node that receives mail for
// domain d, or an error wrapping ErrNotMesh.
func (r *Resolver) Route(ctx context.Context, d string) (netip.Addr, error) {
	if a, ok := ParseCanonicalDomain(d); ok {
		return a, nil
	}
	k, ok := r.aliases[d]
	if !ok {
		return netip.Addr{}, fmt.Errorf("route %s: %w", d, ErrNotMesh)
	}
	return r.addressOf(ctx, k)
}

func (r *Resolver) addressOf(ctx context.Context, k sdk.PublicKey) (netip.Addr, error) {
	r.mu.Lock()
	a, ok := r.cache[k]
	r.mu.Unlock()
	if ok {
		return a, nil
	}
	a, err := r.keys.AddressOf(ctx, k)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("address of key %s: %w", k, err)
	}
	r.mu.Lock()
	r.cache[k] = a
	r.mu.Unlock()
	return a, nil
}

// CheckSender verifies that domain d belongs to the peer: a canonical
// domain must name exactly the peer's overlay address, an alias must map
// to the peer's key. The error text names the mismatch.
func (r *Resolver) CheckSender(d string, peer sdk.Peer) error {
	if a, ok := ParseCanonicalDomain(d); ok {
		if a != peer.Addr.Addr() {
			return fmt.Errorf("sender domain %s belongs to node %s, but the connection comes from %s", d, a, peer.Addr.Addr())
		}
		return nil
	}
	k, ok := r.aliases[d]
	if !ok {
		return fmt.Errorf("sender domain %s is not a mesh domain (neither <32 hex digits>%s nor a configured alias)", d, Suffix)
	}
	if k != peer.Key {
		return fmt.Errorf("sender domain %s is an alias of key %s, but the connection comes from key %s", d, k, peer.Key)
	}
	return nil
}
