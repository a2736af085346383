package e2e

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// hopTTL is the hop limit an echo reply shows after crossing the overlay
// from a node `hops` links away: the replying kernel sends 64, the
// originating node puts 63 on the wire, and every receiving node
// decrements once more.
func hopTTL(hops int) int { return 63 - hops }

// TestTwoNodes runs two kernel-TUN nodes on one veth link, over TCP and
// over QUIC: ping both ways, then iperf3 A -> B.
func TestTwoNodes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		peer     func(netip.Addr) string
		linkKind string // how the node logs the link
		secs     int
	}{
		{"tcp", tcpPeer, `link="TCP `, 4},
		{"quic", quicPeer, `link="QUIC `, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			requireTools(t, "ping", "iperf3")
			nsA, nsB := l.namespace("A"), l.namespace("B")
			lk := l.connect(nsA, nsB)
			a := l.node(nsA, nodeConfig{})
			b := l.node(nsB, nodeConfig{Peers: []string{tc.peer(lk.addrA)}})

			took := a.waitReachable(t, b.addr, 20*time.Second)
			t.Logf("A %s reaches B %s after %v", a.addr, b.addr, took.Round(time.Millisecond))
			if log := b.proc.output(); !strings.Contains(log, "peer link up") || !strings.Contains(log, tc.linkKind) {
				t.Fatalf("B's log shows no %s link:\n%s", tc.linkKind, log)
			}

			for _, dir := range []struct {
				name     string
				from, to *node
			}{{"A->B", a, b}, {"B->A", b, a}} {
				r, out := dir.from.ns.ping(t, 15*time.Second, dir.to.addr, "-c", "20", "-i", "0.05")
				if r.Received != r.Sent || r.Sent != 20 {
					t.Fatalf("ping %s: %v\n%s", dir.name, r, out)
				}
				if got := r.TTLs(); len(got) != 1 || got[0] != hopTTL(1) {
					t.Errorf("ping %s: reply TTLs %v, want [%d] (one overlay hop)", dir.name, got, hopTTL(1))
				}
				t.Logf("ping %s over %s: %v", dir.name, tc.name, r)
			}

			r := l.iperf(t, a, b, tc.secs)
			t.Logf("iperf3 A->B over %s, %d s, 1 stream: %s received (%s sent, %d retransmits)",
				tc.name, tc.secs, gbps(r.ReceivedBps), gbps(r.SentBps), r.Retransmits)
			if r.ReceivedBps <= 0 {
				t.Fatalf("iperf3 A->B moved nothing")
			}
			a.alive(t)
			b.alive(t)
		})
	}
}
