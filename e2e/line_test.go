package e2e

import (
	"testing"
	"time"
)

// TestLine runs A - B - C, where A peers only with B and B only with C
// (A cannot even reach C's underlay addresses): A reaches C through B,
// and B forwards without the packets touching its own TUN device.
func TestLine(t *testing.T) {
	l := newLab(t)
	requireTools(t, "ping", "iperf3")
	nsA, nsB, nsC := l.namespace("A"), l.namespace("B"), l.namespace("C")
	ab := l.connect(nsA, nsB)
	bc := l.connect(nsB, nsC)
	b := l.node(nsB, nodeConfig{})
	a := l.node(nsA, nodeConfig{Peers: []string{tcpPeer(ab.addrB)}})
	c := l.node(nsC, nodeConfig{Peers: []string{tcpPeer(bc.addrA)}})

	took := a.waitReachable(t, c.addr, 30*time.Second)
	t.Logf("A %s reaches C %s through B %s after %v", a.addr, c.addr, b.addr, took.Round(time.Millisecond))

	tunBefore := nsB.stats(t, tunName)
	fromA, toC := nsB.stats(t, ab.devB), nsB.stats(t, bc.devA)

	for _, dir := range []struct {
		name     string
		from, to *node
	}{{"A->C", a, c}, {"C->A", c, a}} {
		r, out := dir.from.ns.ping(t, 15*time.Second, dir.to.addr, "-c", "20", "-i", "0.05")
		if r.Received != r.Sent || r.Sent != 20 {
			t.Fatalf("ping %s: %v\n%s", dir.name, r, out)
		}
		if got := r.TTLs(); len(got) != 1 || got[0] != hopTTL(2) {
			t.Errorf("ping %s: reply TTLs %v, want [%d] (two overlay hops)", dir.name, got, hopTTL(2))
		}
		t.Logf("ping %s through B: %v", dir.name, r)
	}

	const secs = 4
	r := l.iperf(t, a, c, secs)
	t.Logf("iperf3 A->C through B, %d s, 1 stream: %s received (%s sent, %d retransmits)",
		secs, gbps(r.ReceivedBps), gbps(r.SentBps), r.Retransmits)
	if r.ReceivedBps <= 0 {
		t.Fatal("iperf3 A->C moved nothing")
	}

	// What crossed B: every iperf3 byte came in on the link from A and
	// went out on the link to C, and none of it through B's TUN.
	tun := nsB.stats(t, tunName).sub(tunBefore)
	in, out := nsB.stats(t, ab.devB).sub(fromA), nsB.stats(t, bc.devA).sub(toC)
	moved := uint64(r.ReceivedBps / 8 * secs)
	t.Logf("B forwarded: %d packets / %d MB in from A, %d packets / %d MB out to C; B's TUN: rx %d tx %d packets",
		in.RxPackets, in.RxBytes>>20, out.TxPackets, out.TxBytes>>20, tun.RxPackets, tun.TxPackets)
	if in.RxBytes < moved || out.TxBytes < moved {
		t.Errorf("B's veths carried %d bytes in and %d out, want at least iperf3's %d each", in.RxBytes, out.TxBytes, moved)
	}
	// The kernel may put the odd neighbour or multicast packet on the TUN;
	// the A<->C traffic is tens of thousands of packets.
	if tun.RxPackets > 10 || tun.TxPackets > 10 {
		t.Errorf("B's TUN carried rx %d tx %d packets while A and C talked, want (almost) none", tun.RxPackets, tun.TxPackets)
	}
	for _, n := range []*node{a, b, c} {
		n.alive(t)
	}
}

// TestLineDeviceless is A - B - C with B running without any device
// (--device none), as public relay nodes do: it still forwards.
func TestLineDeviceless(t *testing.T) {
	l := newLab(t)
	nsA, nsB, nsC := l.namespace("A"), l.namespace("B"), l.namespace("C")
	ab := l.connect(nsA, nsB)
	bc := l.connect(nsB, nsC)
	b := l.node(nsB, nodeConfig{Device: "none"})
	a := l.node(nsA, nodeConfig{Peers: []string{tcpPeer(ab.addrB)}})
	c := l.node(nsC, nodeConfig{Peers: []string{tcpPeer(bc.addrA)}})
	if out, err := nsB.try(5*time.Second, "ip", "link", "show", tunName); err == nil {
		t.Fatalf("B runs with --device none but has a %s device:\n%s", tunName, out)
	}
	took := a.waitReachable(t, c.addr, 30*time.Second)
	r, out := nsA.ping(t, 15*time.Second, c.addr, "-c", "20", "-i", "0.05")
	if r.Received != r.Sent || r.Sent != 20 {
		t.Fatalf("ping A->C: %v\n%s", r, out)
	}
	if got := r.TTLs(); len(got) != 1 || got[0] != hopTTL(2) {
		t.Errorf("ping A->C: reply TTLs %v, want [%d] (two overlay hops)", got, hopTTL(2))
	}
	t.Logf("A reaches C through deviceless B after %v; ping A->C: %v", took.Round(time.Millisecond), r)
	for _, n := range []*node{a, b, c} {
		n.alive(t)
	}
}
