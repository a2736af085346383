package client

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/mycelium-go/mycelium/adapters/openai/wire"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Run checks the nodes at once and then every RefreshInterval and, with
// Discovery, listens for announcements, until ctx ends. It returns after
// every goroutine it started has.
func (h *Handler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if h.cfg.Discovery {
		wg.Go(func() { h.discover(ctx) })
	}
	t := time.NewTicker(h.cfg.RefreshInterval)
	defer t.Stop()
	for {
		h.refresh(ctx, 0, false)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-h.kick:
		}
	}
}

// Close releases idle connections to the nodes.
func (h *Handler) Close() { h.http.CloseIdleConnections() }

// discover receives announcements until ctx ends.
func (h *Handler) discover(ctx context.Context) {
	backoff := time.Second
	topic := []byte(wire.AnnounceTopic)
	for {
		m, err := h.host.ReceiveMessage(ctx, topic)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			h.log.Warn("receive announcements failed", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		h.announcement(m)
	}
}

// announcement applies one announcement message.
func (h *Handler) announcement(m sdk.InboundMessage) {
	if len(h.cfg.DiscoveryFrom) > 0 && !slices.Contains(h.cfg.DiscoveryFrom, m.Src) {
		h.log.Debug("ignored announcement from a key outside discovery_from", "peer", m.Src.String())
		return
	}
	a, err := wire.DecodeAnnouncement(m.Payload)
	if err != nil {
		h.log.Debug("ignored bad announcement", "peer", m.Src.String(), "err", err)
		return
	}
	switch a.Kind {
	case wire.KindAnnounce:
		if h.reg.announce(m.Src, a.Port, time.Duration(a.TTL)*time.Second) {
			h.log.Info("AI node announced itself", "peer", m.Src.String(), "port", a.Port)
			select {
			case h.kick <- struct{}{}:
			default:
			}
		}
	case wire.KindWithdraw:
		h.log.Info("AI node withdrew", "peer", m.Src.String())
		h.reg.withdraw(m.Src)
	}
}
