package e2e

import (
	"crypto/rand"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// queryTimeout is node A's route query timeout in TestICMP, shortened
// from the default so that "no route" comes quickly.
const queryTimeout = 3 * time.Second

// TestICMP checks what a kernel-TUN node tells its own kernel: the
// overlay MTU (1400) end to end, Packet Too Big, Destination Unreachable
// (no route, unused address in our /64, foreign source) and Time
// Exceeded, each from the node's own address as ping reports it.
func TestICMP(t *testing.T) {
	l := newLab(t)
	requireTools(t, "ping")
	nsA, nsB := l.namespace("A"), l.namespace("B")
	lk := l.connect(nsA, nsB)
	a := l.node(nsA, nodeConfig{Config: "[router]\nquery_timeout = \"" + queryTimeout.String() + "\"\n"})
	b := l.node(nsB, nodeConfig{Peers: []string{tcpPeer(lk.addrA)}})
	a.waitReachable(t, b.addr, 20*time.Second)

	t.Run("mtu", func(t *testing.T) {
		// 1352 bytes of data + 8 ICMPv6 + 40 IPv6 = 1400: the largest
		// packet crosses unfragmented; one byte more, the kernel refuses
		// it at the TUN's MTU.
		r, out := nsA.ping(t, 10*time.Second, b.addr, "-c", "3", "-i", "0.1", "-M", "do", "-s", "1352")
		if r.Received != 3 {
			t.Fatalf("1400-byte pings A->B: %v\n%s", r, out)
		}
		t.Logf("1400-byte packets (unfragmented): %v", r)
		_, out = nsA.ping(t, 10*time.Second, b.addr, "-c", "1", "-M", "do", "-s", "1353")
		if !strings.Contains(out, "mtu: 1400") && !strings.Contains(out, "mtu=1400") {
			t.Errorf("a 1401-byte ping with DF did not fail locally at MTU 1400:\n%s", out)
		}
		// Bigger datagrams are fragmented by the kernels at both ends and
		// the fragments cross the overlay.
		r, out = nsA.ping(t, 10*time.Second, b.addr, "-c", "3", "-i", "0.1", "-s", "4000")
		if r.Received != 3 {
			t.Fatalf("4000-byte (fragmented) pings A->B: %v\n%s", r, out)
		}
	})

	t.Run("packet-too-big", func(t *testing.T) {
		// With A's TUN MTU raised to 1500, the kernel hands the node
		// packets bigger than the overlay MTU; the node must answer with
		// Packet Too Big (MTU 1400), and the kernel then uses 1400 for B.
		nsA.run(t, "ip", "link", "set", tunName, "mtu", "1500")
		defer nsA.run(t, "ip", "link", "set", tunName, "mtu", "1400")
		defer nsA.run(t, "ip", "-6", "route", "flush", "cache")
		r, out := nsA.ping(t, 10*time.Second, b.addr, "-c", "2", "-i", "0.3", "-M", "do", "-s", "1452")
		got := false
		for _, e := range r.Errors {
			if strings.Contains(e.Text, "Packet too big") && strings.Contains(e.Text, "1400") {
				got = true
				if e.From != a.addr.String() {
					t.Errorf("Packet Too Big from %s, want from the node %s", e.From, a.addr)
				}
			}
		}
		if !got {
			t.Fatalf("no Packet Too Big (mtu=1400) for a 1500-byte packet:\n%s", out)
		}
		route := nsA.run(t, "ip", "-6", "route", "get", b.addr.String())
		if !strings.Contains(route, "mtu 1400") {
			t.Errorf("after Packet Too Big the kernel's route to B has no mtu 1400:\n%s", route)
		}
		t.Logf("Packet Too Big: %v; route: %s", r.Errors, strings.TrimSpace(route))
		// Now the kernel fragments to fit and the same payload gets through.
		r, out = nsA.ping(t, 10*time.Second, b.addr, "-c", "2", "-i", "0.1", "-s", "1452")
		if r.Received != 2 {
			t.Errorf("1500-byte pings after Packet Too Big: %v\n%s", r, out)
		}
	})

	t.Run("no-route", func(t *testing.T) {
		dst := randomOverlayAddr(t)
		start := time.Now()
		r, out := nsA.ping(t, queryTimeout+10*time.Second, dst, "-c", "1", "-W", "20")
		took := time.Since(start)
		wantICMPError(t, r, out, a.addr, "Destination unreachable: No route")
		t.Logf("ping %s (nobody's): %q after %v (query timeout %v)", dst, r.Errors[0].Text, took.Round(time.Millisecond), queryTimeout)
		if took < queryTimeout-500*time.Millisecond || took > queryTimeout+5*time.Second {
			t.Errorf("no route reported after %v, want about the query timeout %v", took, queryTimeout)
		}
	})

	t.Run("own-subnet-unused", func(t *testing.T) {
		// Another address in A's own /64 is on no node.
		a16 := a.addr.As16()
		a16[15] ^= 0xff
		r, out := nsA.ping(t, 10*time.Second, netip.AddrFrom16(a16), "-c", "1", "-W", "5")
		wantICMPError(t, r, out, a.addr, "Destination unreachable: Address unreachable")
	})

	t.Run("foreign-source", func(t *testing.T) {
		// A packet whose source is not in A's /64 is refused with code 5
		// (source address failed ingress/egress policy).
		src := randomOverlayAddr(t)
		nsA.run(t, "ip", "addr", "add", src.String()+"/128", "dev", tunName, "nodad")
		defer nsA.run(t, "ip", "addr", "del", src.String()+"/128", "dev", tunName)
		r, out := nsA.ping(t, 10*time.Second, b.addr, "-c", "1", "-W", "5", "-I", src.String())
		wantICMPError(t, r, out, a.addr, "Destination unreachable")
		if text := r.Errors[0].Text; !strings.Contains(text, "code 5") && !strings.Contains(strings.ToLower(text), "policy") {
			t.Errorf("ping from %s got %q, want code 5 (source policy)", src, text)
		}
	})

	t.Run("hop-limit", func(t *testing.T) {
		r, out := nsA.ping(t, 10*time.Second, b.addr, "-c", "1", "-W", "5", "-t", "1")
		wantICMPError(t, r, out, a.addr, "Time exceeded: Hop limit")
	})
	a.alive(t)
	b.alive(t)
}

// wantICMPError checks that ping got exactly one ICMPv6 error, from the
// node's address, whose text starts with want.
func wantICMPError(t *testing.T, r pingResult, out string, from netip.Addr, want string) {
	t.Helper()
	if len(r.Errors) != 1 || r.Received != 0 {
		t.Fatalf("want one ICMPv6 error %q and no reply, got %v, errors %v:\n%s", want, r, r.Errors, out)
	}
	if e := r.Errors[0]; !strings.HasPrefix(e.Text, want) || e.From != from.String() {
		t.Fatalf("got %q from %s, want %q from %s:\n%s", e.Text, e.From, want, from, out)
	}
}

// randomOverlayAddr returns a random address in 400::/7.
func randomOverlayAddr(t *testing.T) netip.Addr {
	t.Helper()
	var b [16]byte
	rand.Read(b[:])
	b[0] = 0x04 | b[0]&1
	return netip.AddrFrom16(b)
}
