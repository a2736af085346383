package nodetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLineOfFive(t *testing.T) {
	nt := New(t, 5, Options{})
	nt.Line()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := nt.WaitLinks(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]int{{0, 4}, {4, 0}, {1, 3}, {3, 1}, {2, 0}} {
		start := time.Now()
		if err := nt.Exchange(ctx, pair[0], pair[1], fmt.Sprintf("hello %d->%d", pair[0], pair[1])); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d -> %d delivered after %v", pair[0], pair[1], time.Since(start))
	}
}

func TestEchoCrossesTheNetwork(t *testing.T) {
	nt := New(t, 3, Options{})
	nt.Line()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := nt.WaitLinks(ctx); err != nil {
		t.Fatal(err)
	}
	if err := nt.Exchange(ctx, 0, 2, "route"); err != nil {
		t.Fatal(err)
	}
	a, c := nt.Members[0], nt.Members[2]
	got := make(chan Packet, 1)
	c.Tap(func(pkt []byte) {
		if p, ok := Parse(pkt); ok && p.Next == ProtoICMPv6 && p.ICMPType == 128 {
			got <- p
		}
	})
	if err := a.Inject(ctx, Echo(a.Address(), c.Address(), 7, 1, 64, []byte("ping"))); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if !p.ChecksumOK || p.Src != a.Address() || p.HopLimit != 61 {
			t.Errorf("echo arrived with checksum ok %v from %s hop limit %d", p.ChecksumOK, p.Src, p.HopLimit)
		}
	case <-ctx.Done():
		t.Fatal("echo request not delivered")
	}
}
