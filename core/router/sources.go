package router

import (
	"net/netip"
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

// sourceKey names a route's origin: the prefix and the router that
// announced it.
type sourceKey struct {
	prefix netip.Prefix
	rid    wire.RouterID
}

// distance is a feasibility distance: the best (seqno, metric) this node
// has advertised for a source, and when the entry was last refreshed.
type distance struct {
	metric    wire.Metric
	seqno     wire.SeqNo
	refreshed time.Time
}

// sourceTable records what this node has advertised (spec §4.6). It is
// owned by the router goroutine.
type sourceTable map[sourceKey]distance

// feasible reports whether an update or route with seqno and metric for
// key passes the feasibility condition.
func (t sourceTable) feasible(key sourceKey, seqno wire.SeqNo, metric wire.Metric) bool {
	fd, ok := t[key]
	if !ok || metric.IsInfinite() {
		return true
	}
	return seqno.Greater(fd.seqno) || (seqno == fd.seqno && metric < fd.metric)
}

// advertised applies an Update this node sends (or prepares) to the
// table: insert, replace when newer or better, or just refresh.
func (t sourceTable) advertised(u *wire.Update, now time.Time) {
	key := sourceKey{u.Prefix, u.RouterID}
	fd, ok := t[key]
	switch {
	case !ok, u.Seqno.Greater(fd.seqno), u.Seqno == fd.seqno && u.Metric < fd.metric:
		t[key] = distance{metric: u.Metric, seqno: u.Seqno, refreshed: now}
	case !u.Metric.IsInfinite():
		fd.refreshed = now
		t[key] = fd
	}
}

// seqnoOf returns the advertised seqno for key, 0 when unknown.
func (t sourceTable) seqnoOf(key sourceKey) wire.SeqNo { return t[key].seqno }

// sweep removes entries not refreshed within gc and returns how many.
func (t sourceTable) sweep(now time.Time, gc time.Duration) int {
	n := 0
	for k, fd := range t {
		if now.Sub(fd.refreshed) > gc {
			delete(t, k)
			n++
		}
	}
	return n
}
