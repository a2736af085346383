package gateway

import (
	"errors"
	"net/netip"
	"os"
	"sync"
	"testing"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/netstack"
)

// netstackNet joins userspace stacks (core/netstack) with an in-memory
// hub that delivers every packet to the stack owning its destination /64,
// standing in for the node's encrypted data plane. It is the overlay of a
// node without TUN: SYN-time admission, userspace connections, splice.
type netstackNet struct {
	mu     sync.Mutex
	stacks map[netip.Prefix]*netstack.Stack
	wg     sync.WaitGroup
}

func newNetstackNet(t *testing.T) testNet { return newNetstackHub(t) }

func newNetstackHub(t testing.TB) *netstackNet {
	n := &netstackNet{stacks: map[netip.Prefix]*netstack.Stack{}}
	t.Cleanup(func() {
		n.mu.Lock()
		for _, st := range n.stacks {
			_ = st.Close()
		}
		n.mu.Unlock()
		n.wg.Wait()
	})
	return n
}

func (n *netstackNet) overlay(t testing.TB, k identity.PublicKey) Overlay {
	t.Helper()
	subnet := identity.SubnetOf(k)
	n.mu.Lock()
	defer n.mu.Unlock()
	if st := n.stacks[subnet]; st != nil {
		return NetstackOverlay{Stack: st}
	}
	st, err := netstack.New(netstack.Config{Addr: identity.AddressOf(k)})
	if err != nil {
		t.Fatal(err)
	}
	n.stacks[subnet] = st
	n.wg.Add(1)
	go n.pump(st)
	return NetstackOverlay{Stack: st}
}

// offset is the headroom the node leaves in front of packets.
const pumpOffset = 16

// pump moves the packets st sends to the stacks they are addressed to,
// one Write per destination per batch.
func (n *netstackNet) pump(st *netstack.Stack) {
	defer n.wg.Done()
	bufs := make([][]byte, st.BatchSize())
	for i := range bufs {
		bufs[i] = make([]byte, 65535+pumpOffset)
	}
	sizes := make([]int, len(bufs))
	batches := map[*netstack.Stack][][]byte{}
	for {
		count, err := st.Read(bufs, sizes, pumpOffset)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				panic(err)
			}
			return
		}
		clear(batches)
		for i := range count {
			pkt := bufs[i][:pumpOffset+sizes[i]]
			if sizes[i] < 40 {
				continue
			}
			dst := netip.AddrFrom16([16]byte(pkt[pumpOffset+24 : pumpOffset+40]))
			p, _ := dst.Prefix(64)
			n.mu.Lock()
			to := n.stacks[p]
			n.mu.Unlock()
			if to != nil {
				batches[to] = append(batches[to], pkt)
			}
		}
		for to, pkts := range batches {
			_, _ = to.Write(pkts, pumpOffset)
		}
	}
}
