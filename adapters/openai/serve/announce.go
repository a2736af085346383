package serve

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/mycelium-go/mycelium/adapters/openai/wire"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Announcer tells client-role nodes that this node serves the API: it
// sends a wire.Announcement on wire.AnnounceTopic to each key in To, at
// once and then every Interval, and a withdrawal when it stops. The
// message bus has no broadcast, so the receivers are named: typically the
// same keys the gateway's policy admits to the service.
type Announcer struct {
	host     sdk.Host
	to       []sdk.PublicKey
	port     uint16
	interval time.Duration
	log      *slog.Logger
}

// NewAnnouncer validates its arguments and returns an Announcer.
func NewAnnouncer(host sdk.Host, to []sdk.PublicKey, port uint16, interval time.Duration, log *slog.Logger) (*Announcer, error) {
	switch {
	case host == nil || log == nil:
		return nil, errors.New("announcer: nil host or logger")
	case port == 0:
		return nil, errors.New("announcer: the serve role has no overlay port")
	case interval < time.Second:
		return nil, errors.New("announcer: interval below one second")
	}
	return &Announcer{host: host, to: to, port: port, interval: interval, log: log}, nil
}

// Run announces until ctx ends, then sends withdrawals (bounded by two
// seconds) and returns.
func (a *Announcer) Run(ctx context.Context) {
	ttl := int(3 * a.interval / time.Second)
	msg := wire.Announcement{Version: 1, Kind: wire.KindAnnounce, Port: a.port, TTL: ttl}.Encode()
	t := time.NewTicker(a.interval)
	defer t.Stop()
	for {
		a.send(ctx, msg)
		select {
		case <-ctx.Done():
			stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			a.send(stop, wire.Announcement{Version: 1, Kind: wire.KindWithdraw}.Encode())
			cancel()
			return
		case <-t.C:
		}
	}
}

func (a *Announcer) send(ctx context.Context, payload []byte) {
	for _, k := range a.to {
		sendCtx, cancel := context.WithTimeout(ctx, a.interval)
		_, err := a.host.SendMessage(sendCtx, sdk.OutboundMessage{
			Dst: k, Topic: []byte(wire.AnnounceTopic), Payload: payload, Deadline: time.Now().Add(a.interval),
		})
		cancel()
		if err != nil && ctx.Err() == nil {
			a.log.Debug("announce failed", "peer", k.String(), "err", err)
		}
	}
}
