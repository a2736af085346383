// Package node assembles an overlay node: the router, the data plane
// between the device and the links, and the hooks the API, the message bus
// and the gateway use.
//
// The data plane follows the reference (spec §4.14, §5, §6) with these
// differences, all invisible on the wire:
//
//   - A decrypted packet whose inner IPv6 source lies outside the sender
//     key's /64, or whose inner destination lies outside ours, is dropped
//     and counted (architecture decision 3): the address of a packet that
//     reaches the device is proof of the sender's key.
//   - Packets from the device bigger than the overlay MTU are answered with
//     an ICMPv6 Packet Too Big (MTU 1400), and packets whose source is not
//     in our /64 with Destination Unreachable code 5.
//   - Every queue and table is bounded: packets waiting for a route or a
//     key, and the per-address statistics.
//
// Buffers are laid out so no packet is copied for sealing or opening: the
// device is read at offset 44 (room for the outer, data and user headers
// before the packet, the tag and nonce after it) and sealed in place;
// received packets are decrypted straight into 64 KiB device buffers at
// offset 40 and written to the device in batches, so the kernel TUN can
// coalesce the TCP segments of a flow (GRO). Neither the send path nor the
// receive path allocates per packet.
//
// Packets move in batches: what one device read returns is sealed and
// handed to each link with one call (link.BatchSender), transit packets
// of one link read likewise, and packets for the device are written in
// batches. When a link's send queue is full the batch waits briefly for
// room instead of being dropped, so back-pressure reaches the sending
// TCP over the links rather than as loss (see sendWait, transitWait).
// With Config.BatchScheduling (the daemon's default), Start puts the
// process's threads under SCHED_BATCH on Linux, so handing a batch to a
// link or the device does not switch the node out in favour of the
// reader it wakes.
//
// The device may be nil (no-TUN mode): the node then routes and forwards
// for others, answers route requests and carries messages, and drops
// packets for the device. The Node takes ownership of the device and
// closes it in Close. The node reads from one goroutine and serializes its
// writes, so the device needs one reader and one writer at a time.
package node
