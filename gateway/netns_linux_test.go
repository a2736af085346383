package gateway

import (
	"context"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/mycelium-go/mycelium/core/identity"
)

// netns is a private network namespace owned by one locked OS thread:
// functions passed to do run on that thread, so the sockets they create
// live in the namespace. Overlay addresses are added to its loopback
// interface, so kernel sockets bound to them behave like sockets on a TUN
// node's overlay address.
type netns struct {
	calls chan func()
}

// newNetnsNet returns a kernel-socket test network in a fresh network
// namespace, or skips the test when that is impossible (not root).
func newNetnsNet(t *testing.T) testNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("kernel-socket (TUN-mode) variant needs root for a network namespace")
	}
	ns := &netns{calls: make(chan func())}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		errc <- err
		if err != nil {
			return
		}
		for f := range ns.calls {
			f()
		}
	}()
	if err := <-errc; err != nil {
		t.Skipf("cannot create a network namespace: %v", err)
	}
	t.Cleanup(func() { close(ns.calls) })
	return &netnsNet{ns: ns, added: map[netip.Addr]bool{}}
}

func (ns *netns) do(f func()) {
	done := make(chan struct{})
	ns.calls <- func() {
		defer close(done)
		f()
	}
	<-done
}

type netnsNet struct {
	ns    *netns
	mu    sync.Mutex
	added map[netip.Addr]bool
}

// overlay adds k's overlay address to the namespace's loopback interface
// and returns a KernelOverlay on it whose sockets live in the namespace.
func (n *netnsNet) overlay(t testing.TB, k identity.PublicKey) Overlay {
	t.Helper()
	addr := identity.AddressOf(k)
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.added[addr] {
		var err error
		n.ns.do(func() {
			var lo netlink.Link
			if lo, err = netlink.LinkByName("lo"); err != nil {
				return
			}
			err = netlink.AddrAdd(lo, &netlink.Addr{
				IPNet: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(128, 128)},
				Flags: unix.IFA_F_NODAD,
			})
		})
		if err != nil {
			t.Fatalf("add %s to the namespace: %v", addr, err)
		}
		n.added[addr] = true
	}
	return &nsOverlay{ns: n.ns, k: KernelOverlay{Addr: addr}}
}

// nsOverlay runs a KernelOverlay's socket calls inside the namespace.
type nsOverlay struct {
	ns *netns
	k  KernelOverlay
}

func (o *nsOverlay) Listen(ctx context.Context, port uint16, admit func(netip.AddrPort) bool) (ln net.Listener, err error) {
	o.ns.do(func() { ln, err = o.k.Listen(ctx, port, admit) })
	return ln, err
}

func (o *nsOverlay) Dial(ctx context.Context, network, address string) (c net.Conn, err error) {
	o.ns.do(func() { c, err = o.k.Dial(ctx, network, address) })
	return c, err
}
