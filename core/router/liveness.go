package router

import (
	"context"
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

// liveness is the goroutine that sends Hellos and declares silent
// neighbours dead. It is separate from the router goroutine so a router
// busy with a flood of Updates (each new route costs an X25519) neither
// stops our Hellos nor misses a dead link.
func (r *Router) liveness(ctx context.Context) {
	hello := time.NewTicker(r.cfg.HelloInterval)
	dead := time.NewTicker(r.cfg.DeadCheckInterval)
	defer hello.Stop()
	defer dead.Stop()
	buf := make([]byte, 0, wire.MaxControlPacket)
	var nbs []*Neighbour
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-hello.C:
			nbs = r.registered(nbs[:0])
			for _, nb := range nbs {
				buf = r.sendHello(nb, now, buf)
			}
		case now := <-dead.C:
			nbs = r.registered(nbs[:0])
			for _, nb := range nbs {
				if silent := now.Sub(nb.lastHeard()); silent > r.cfg.DeadInterval {
					r.declareDead(nb, silent)
				}
			}
		}
	}
}

// registered appends the live neighbours to dst.
func (r *Router) registered(dst []*Neighbour) []*Neighbour {
	r.registry.RLock()
	for _, nb := range r.registry.byLink {
		dst = append(dst, nb)
	}
	r.registry.RUnlock()
	return dst
}

// sendHello sends the periodic Hello (spec §4.3) using buf as scratch and
// returns it.
func (r *Router) sendHello(nb *Neighbour, now time.Time, buf []byte) []byte {
	t := wire.TLV{Type: wire.TLVHello, Hello: wire.Hello{
		Flags:    wire.HelloFlagUnicast,
		Seqno:    wire.SeqNo(nb.helloSeq.Add(1) - 1),
		Interval: centis(r.cfg.HelloInterval),
	}}
	nb.helloSent(now)
	buf = wire.AppendControl(buf[:0], &t)
	if err := nb.link.SendControl(buf); err != nil {
		r.log.Debug("hello not sent", "peer", nb.link.String(), "err", err)
	}
	return buf
}

// declareDead removes a neighbour that sent neither an IHU nor any byte
// for DeadInterval, closes its link (the link manager reconnects) and
// hands its routes to the router goroutine for failover (spec §4.13).
func (r *Router) declareDead(nb *Neighbour, silent time.Duration) {
	r.registry.Lock()
	if r.registry.byLink[nb.link] != nb {
		r.registry.Unlock()
		return
	}
	delete(r.registry.byLink, nb.link)
	r.registry.Unlock()
	nb.dead.Store(true)
	r.m.PeerDied.Add(1)
	r.log.Info("peer is dead", "peer", nb.link.String(), "silent", silent.Round(time.Millisecond))
	l := nb.link
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		l.Close()
	}()
	select {
	case r.deaths <- nb:
	case <-r.quit:
	}
}
