package gateway

import (
	"context"
	"sync"

	"github.com/mycelium-go/mycelium/gateway/acl"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// connRegistry tracks the connections the gateway is handing off or
// carrying (spliced), so a policy reload can close those whose key lost
// access. Connections handed off by descriptor leave the registry as soon
// as the plugin has them.
type connRegistry struct {
	mu sync.Mutex
	m  map[*connEntry]struct{}
}

type connEntry struct {
	service string
	peer    sdk.Peer
	cancel  context.CancelFunc
}

func (r *connRegistry) add(service string, p sdk.Peer, cancel context.CancelFunc) *connEntry {
	e := &connEntry{service: service, peer: p, cancel: cancel}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[*connEntry]struct{}{}
	}
	r.m[e] = struct{}{}
	return e
}

func (r *connRegistry) remove(e *connEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, e)
}

// revoke closes every overlay connection that p no longer allows and
// returns how many.
func (r *connRegistry) revoke(p *acl.Policy) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for e := range r.m {
		if e.peer.Origin == sdk.OriginOverlay && !p.Allow(e.service, acl.Key(e.peer.Key)) {
			e.cancel()
			delete(r.m, e)
			n++
		}
	}
	return n
}
