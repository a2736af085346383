// Package netstack is the userspace data-plane device: a gVisor TCP/IP stack
// that owns the node's overlay address and needs no root and no kernel TUN.
//
// A Stack plays two roles at once:
//
//   - Toward the node it is a golang.zx2c4.com/wireguard/tun.Device. The
//     node reads the packets the stack sends (raw IPv6, at most MTU bytes
//     each, batched) and writes the packets it received from the mesh into
//     it, exactly as it would with a kernel TUN.
//   - Toward local code (the gateway, plugins through SOCKS5, tests) it
//     offers tsnet-style sockets on the overlay address: Listen and
//     ListenFiltered for TCP (the filter decides per peer at SYN time and a
//     refused peer gets a RST), Dial for TCP and UDP, and ListenPacket for
//     UDP. All of them return standard net types.
//
// The NIC carries the node address with a /64 and one route, 400::/7. ICMPv6
// echo requests to the node address are answered by the stack, so ping from
// a TUN node works. The MTU is 1400.
//
// Performance: toward the node the stack uses host-style offloads. TCP hands
// the link endpoint segments of up to 64 KiB (GSO), which Read splits into
// MTU-sized packets with their checksums; Write coalesces consecutive
// segments of a flow (GRO) before they enter the stack. Outbound packets
// wait in a bounded queue (drop-tail when full, as a NIC would) with a
// notification channel for the reader; no goroutine sits between the stack
// and the node.
//
// Typical use by the node and the gateway:
//
//	st, err := netstack.New(netstack.Config{Addr: nodeAddr, Logger: log})
//	// the node's data plane: st.Read(bufs, sizes, 16) / st.Write(bufs, 16)
//	ln, err := st.ListenFiltered("tcp", "[::]:25", func(peer netip.AddrPort) bool {
//		return acl.Allow("smtp", keyOf(peer.Addr()))
//	})
//	conn, err := st.Dial(ctx, "tcp", "[4ff:...]:25")
//	defer st.Close()
//
// The node should write in batches (all packets it has at hand in one
// Write call): coalescing only happens within a batch, and one packet per
// call costs about a sixth of the bulk throughput.
//
// Every gVisor call of the project lives in this package: gVisor's API moves
// without notice, so no gVisor type appears in its exported API.
package netstack
