package sdktest

import (
	"net/netip"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Key returns a test key with every byte b. Key(0) is the zero key: no
// identity.
func Key(b byte) sdk.PublicKey {
	var k sdk.PublicKey
	for i := range k {
		k[i] = b
	}
	return k
}

// Addr returns the overlay address of Peer(b), 4ab:XX00::XX for b = 0xXX, in
// 400::/7. It is not derived from the key the way the node derives
// addresses; register it with Host.AddNode where a plugin looks it up.
func Addr(b byte) netip.Addr {
	return netip.AddrFrom16([16]byte{0x04, 0xab, b, 0, 15: b})
}

// Peer returns an overlay peer with key Key(b) at [Addr(b)]:40000+b. b
// must not be 0. Harness.Dial fills in Service and Local.
func Peer(b byte) sdk.Peer {
	return sdk.Peer{
		Key:    Key(b),
		Addr:   netip.AddrPortFrom(Addr(b), 40000+uint16(b)),
		Origin: sdk.OriginOverlay,
	}
}

// LoopbackPeer returns a peer on 127.0.0.1:50000 with no key, as the
// machine's own user. Harness.Dial fills in Service and Local.
func LoopbackPeer() sdk.Peer {
	return sdk.Peer{
		Addr:   netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 50000),
		Origin: sdk.OriginLoopback,
	}
}

// Node returns the default test node: key Key(0xee), address 5ee::1 in
// subnet 5ee::/64, name "node.test".
func Node() sdk.NodeInfo {
	addr := netip.AddrFrom16([16]byte{0x05, 0xee, 15: 1})
	return sdk.NodeInfo{
		PublicKey: Key(0xee),
		Address:   addr,
		Subnet:    netip.PrefixFrom(addr, 64).Masked(),
		Names:     []string{"node.test"},
	}
}
