package wire

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/mycelium-go/mycelium/core/identity"
)

// SeqNo is a Babel sequence number with modular (RFC 8966 §3.2.1) order.
type SeqNo uint16

// Less reports whether s precedes o: 0 < (o-s) mod 2^16 < 32768. Values
// exactly 32768 apart compare neither way.
func (s SeqNo) Less(o SeqNo) bool {
	d := uint16(o - s)
	return d != 0 && d < 0x8000
}

// Greater reports whether s follows o.
func (s SeqNo) Greater(o SeqNo) bool { return o.Less(s) }

// Metric is a route metric; MetricInfinite means unreachable (retraction).
type Metric uint16

// MetricInfinite marks an unreachable route.
const MetricInfinite Metric = 0xFFFF

// IsInfinite reports whether m is infinite.
func (m Metric) IsInfinite() bool { return m == MetricInfinite }

// Add returns m+o, infinite if either is infinite, else saturating at
// 0xFFFE as the reference does.
func (m Metric) Add(o Metric) Metric {
	if m == MetricInfinite || o == MetricInfinite {
		return MetricInfinite
	}
	if s := uint32(m) + uint32(o); s < uint32(MetricInfinite) {
		return Metric(s)
	}
	return MetricInfinite - 1
}

// Sub returns m-o for the hysteresis test: infinite stays infinite, else
// saturating at 0.
func (m Metric) Sub(o Metric) Metric {
	if m == MetricInfinite {
		return MetricInfinite
	}
	if o >= m {
		return 0
	}
	return m - o
}

func (m Metric) String() string {
	if m.IsInfinite() {
		return "infinite"
	}
	return fmt.Sprint(uint16(m))
}

// RouterIDSize is the size of a router id on the wire.
const RouterIDSize = 40

// RouterID identifies a router: public key (32) || zone (2, zero) || 6
// random bytes drawn at every process start (spec §1.4).
type RouterID [RouterIDSize]byte

// NewRouterID returns a router id for key with fresh random bytes.
func NewRouterID(key identity.PublicKey) RouterID {
	var id RouterID
	copy(id[:32], key[:])
	rand.Read(id[34:])
	return id
}

// PublicKey returns the key part of the router id.
func (id RouterID) PublicKey() identity.PublicKey { return identity.PublicKey(id[:32]) }

// String returns "<64 hex key>-<4 hex zone>-<12 hex random>", the form the
// reference uses (e.g. as its QUIC certificate name).
func (id RouterID) String() string {
	var b strings.Builder
	b.Grow(2*RouterIDSize + 2)
	b.WriteString(hex.EncodeToString(id[:32]))
	b.WriteByte('-')
	b.WriteString(hex.EncodeToString(id[32:34]))
	b.WriteByte('-')
	b.WriteString(hex.EncodeToString(id[34:]))
	return b.String()
}

// ParseRouterID parses the String form.
func ParseRouterID(s string) (RouterID, error) {
	var id RouterID
	parts := strings.Split(s, "-")
	if len(parts) != 3 || len(parts[0]) != 64 || len(parts[1]) != 4 || len(parts[2]) != 12 {
		return id, fmt.Errorf("wire: router id %q: want <64 hex>-<4 hex>-<12 hex>", s)
	}
	raw, err := hex.DecodeString(parts[0] + parts[1] + parts[2])
	if err != nil {
		return id, fmt.Errorf("wire: router id %q: %w", s, err)
	}
	copy(id[:], raw)
	return id, nil
}
