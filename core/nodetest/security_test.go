package nodetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/wire"
)

// seal builds a complete data packet (outer header included) from the
// holder of key to dst, carrying inner as an IPv6 packet.
func seal(t *testing.T, key *identity.KeyPair, to identity.PublicKey, src, dst [16]byte, hop uint8, inner []byte) []byte {
	t.Helper()
	s, err := key.SharedSecret(to)
	if err != nil {
		t.Fatal(err)
	}
	plain := make([]byte, wire.UserHeaderSize, wire.UserHeaderSize+len(inner)+identity.Overhead)
	wire.PutUserHeader(plain, wire.KindPacket)
	plain = append(plain, inner...)
	body := s.Seal(nil, plain)
	pkt := wire.AppendOuterHeader(nil, wire.TypeData)
	pkt = wire.AppendDataHeader(pkt, wire.DataHeader{
		Length: uint16(len(body)), HopLimit: hop,
		Src: netip.AddrFrom16(src), Dst: netip.AddrFrom16(dst),
	})
	return append(pkt, body...)
}

func TestForgedInnerSourceDropped(t *testing.T) {
	nt := New(t, 3, Options{})
	nt.Line() // 0 - 1 - 2
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := nt.WaitLinks(ctx); err != nil {
		t.Fatal(err)
	}
	a, b, c := nt.Members[0], nt.Members[1], nt.Members[2]
	// b knows a's key (they are neighbours), so it can open what a seals.
	for b.Node.Router().Lookup(a.Address()) == nil {
		time.Sleep(10 * time.Millisecond)
	}
	var got atomic.Int32
	b.Tap(func([]byte) { got.Add(1) })
	endA := nt.Pair(0, 1).A

	// a seals, with its own key, a packet whose inner source is c's.
	forged := UDP(c.Address(), b.Address(), 1, 2, 64, []byte("forged"))
	pkt := seal(t, a.Key, b.Key.Public(), a.Address().As16(), b.Address().As16(), 10, forged)
	if err := endA.SendData(pkt); err != nil {
		t.Fatal(err)
	}
	// The same with an honest inner source is delivered.
	honest := UDP(a.Address(), b.Address(), 1, 2, 64, []byte("honest"))
	arrived := b.Expect("honest")
	if err := endA.SendData(seal(t, a.Key, b.Key.Public(), a.Address().As16(), b.Address().As16(), 10, honest)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-ctx.Done():
		t.Fatal("honest packet not delivered")
	}
	if n := got.Load(); n != 1 {
		t.Errorf("b's device got %d packets, want only the honest one", n)
	}
	if f := b.Node.Metrics().ForgedSource.Load(); f != 1 {
		t.Errorf("forged source counter = %d, want 1", f)
	}
	// An inner destination outside b's /64 is dropped as well.
	wrongDst := UDP(a.Address(), c.Address(), 1, 2, 64, []byte("wrong dst"))
	if err := endA.SendData(seal(t, a.Key, b.Key.Public(), a.Address().As16(), b.Address().As16(), 10, wrongDst)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.Node.Metrics().ForgedDest.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got.Load() != 1 || b.Node.Metrics().ForgedDest.Load() != 1 {
		t.Errorf("inner destination outside our /64 not dropped (device got %d)", got.Load())
	}
	// A body sealed with another key fails authentication.
	other, _ := identity.GenerateKeyPair()
	if err := endA.SendData(seal(t, other, b.Key.Public(), a.Address().As16(), b.Address().As16(), 10, honest)); err != nil {
		t.Fatal(err)
	}
	for b.Node.Metrics().CryptoFailures.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if b.Node.Metrics().CryptoFailures.Load() != 1 {
		t.Error("packet sealed with the wrong key was not counted as a crypto failure")
	}
}

func TestRestartedNodeIsLearnedAgain(t *testing.T) {
	nt := New(t, 4, Options{})
	nt.Ring()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := nt.WaitLinks(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]int{{0, 2}, {2, 0}, {1, 2}, {3, 2}} {
		if err := nt.Exchange(ctx, p[0], p[1], fmt.Sprint("before ", p)); err != nil {
			t.Fatal(err)
		}
	}
	oldID := nt.Members[2].Node.Router().ID()
	if err := nt.Restart(2); err != nil {
		t.Fatal(err)
	}
	newID := nt.Members[2].Node.Router().ID()
	if newID == oldID || newID.PublicKey() != oldID.PublicKey() {
		t.Fatal("restart did not keep the key with a new router id")
	}
	if s, _ := nt.Members[2].Node.Router().Seqno(ctx); s != 0 {
		t.Errorf("restarted seqno = %d, want 0", s)
	}
	if err := nt.WaitLinks(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, p := range [][2]int{{0, 2}, {2, 0}, {1, 2}, {2, 3}} {
		if err := nt.Exchange(ctx, p[0], p[1], fmt.Sprint("after ", p)); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("traffic resumed %v after the restart", time.Since(start).Round(time.Millisecond))
	rs, _ := nt.Members[0].Node.Router().SelectedRoutes(ctx)
	for _, r := range rs {
		if r.Subnet == nt.Members[2].Key.Subnet() && r.RouterID != newID {
			t.Errorf("node 0 routes to 2 with the old router id %s", r.RouterID)
		}
	}
}

func TestRandomMesh100(t *testing.T) {
	if testing.Short() {
		t.Skip("100 nodes")
	}
	const n = 100
	// Links a router gives up on come back, as with the link manager: on a
	// starved CI machine a false death must not partition the mesh.
	nt := New(t, n, Options{Reconnect: 200 * time.Millisecond})
	rng := rand.New(rand.NewPCG(1, 2))
	nt.RandomMesh(rng, n/2)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := nt.WaitLinks(ctx); err != nil {
		t.Fatal(err)
	}
	var pairs [][2]int
	for i := range n {
		for j := range n {
			if i != j {
				pairs = append(pairs, [2]int{i, j})
			}
		}
	}
	rng.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	// All 9,900 pairs, 32 at a time.
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int32
	work := make(chan [2]int)
	for range 32 {
		wg.Go(func() {
			for p := range work {
				if err := nt.Exchange(ctx, p[0], p[1], fmt.Sprintf("mesh %d %d", p[0], p[1])); err != nil {
					if failed.Add(1) <= 5 {
						t.Error(err)
					}
				}
			}
		})
	}
	for _, p := range pairs {
		work <- p
	}
	close(work)
	wg.Wait()
	t.Logf("%d pairs exchanged in %v (%d failed)", len(pairs), time.Since(start).Round(time.Millisecond), failed.Load())
	size := 0
	for _, m := range nt.Members {
		size += m.Node.Router().Size()
	}
	t.Logf("average forwarding table size %d", size/n)
	died := uint64(0)
	for _, m := range nt.Members {
		died += m.Node.Router().Metrics().PeerDied.Load()
	}
	t.Logf("peers declared dead: %d", died)
}
