package netstack

import (
	"bytes"
	"encoding/binary"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// maxFlows bounds the TCP flows coalesced at once within one Write batch;
// the oldest is flushed when another flow shows up.
const maxFlows = 8

// maxCoalesced bounds a coalesced packet: the IPv6 payload length field.
const maxCoalesced = header.IPv6MinimumSize + 0xffff

// flowKey is source address, destination address and both ports.
type flowKey [36]byte

// flow is a run of in-order, same-sized TCP data segments of one flow
// within the current batch, to be handed to the stack as one segment.
type flow struct {
	key     flowKey
	members []int  // indexes into the batch, in order
	nextSeq uint32 // sequence number the next member must have
	segLen  int    // payload length of the first member
	size    int    // bytes of the coalesced packet
	closed  bool   // no more members may join (short or PSH segment)
}

// coalescer is receive offload (GRO) on raw packets: Write feeds it a batch
// and it delivers every packet to the stack, merging consecutive TCP data
// segments of a flow into one large segment first. Merging happens before
// any PacketBuffer exists, so a merged run costs one buffer and one pass
// through the stack instead of one per segment. Checksums were verified
// by rxChecksumOK. Packets of one flow keep their order; packets of
// different flows may be reordered relative to each other.
type coalescer struct {
	enabled bool
	d       stack.NetworkDispatcher
	batch   [][]byte // packets of the current Write, offsets stripped
	flows   [maxFlows]flow
	open    int // flows[:open] are in use, oldest first
}

// run delivers every packet of batch through d.
func (c *coalescer) run(d stack.NetworkDispatcher, batch [][]byte) {
	c.d, c.batch = d, batch
	for i, p := range batch {
		c.add(i, p)
	}
	for c.open > 0 {
		c.flush(0)
	}
	c.d, c.batch = nil, nil
}

// add handles packet i of the batch.
func (c *coalescer) add(i int, p []byte) {
	seg, ok := tcpData(p)
	if !ok || !c.enabled {
		if key, isTCP := tcpFlowKey(p); isTCP {
			if f := c.find(key); f >= 0 {
				c.flush(f) // keep the flow's order: its data goes first
			}
		}
		deliver(c.d, p)
		return
	}
	f := c.find(seg.key)
	if f >= 0 && c.appendable(&c.flows[f], p, seg) {
		c.join(&c.flows[f], i, seg)
		return
	}
	if f >= 0 {
		c.flush(f)
	}
	if c.open == maxFlows {
		c.flush(0)
	}
	fl := &c.flows[c.open]
	c.open++
	fl.key, fl.members = seg.key, append(fl.members[:0], i)
	fl.nextSeq = seg.seq + uint32(seg.payload)
	fl.segLen, fl.size = seg.payload, len(p)
	fl.closed = seg.psh
}

// find returns the index of the open flow with key, or -1.
func (c *coalescer) find(key flowKey) int {
	for i := range c.open {
		if c.flows[i].key == key {
			return i
		}
	}
	return -1
}

// appendable reports whether p may join fl: the next segment in sequence,
// not longer than the first, with identical IP and TCP headers apart from
// sequence number, window, checksum and lengths.
func (c *coalescer) appendable(fl *flow, p []byte, seg tcpSeg) bool {
	first := c.batch[fl.members[0]]
	if fl.closed || seg.seq != fl.nextSeq || seg.payload > fl.segLen ||
		fl.size+seg.payload > maxCoalesced || seg.hdrLen != tcpHeaderLen(first) {
		return false
	}
	// Version, traffic class, flow label; hop limit.
	if !bytes.Equal(p[0:4], first[0:4]) || p[7] != first[7] {
		return false
	}
	t, ft := p[header.IPv6MinimumSize:], first[header.IPv6MinimumSize:]
	// Acknowledgement number, data offset and flags (PSH may differ).
	if !bytes.Equal(t[8:13], ft[8:13]) || (t[13]^ft[13])&^byte(header.TCPFlagPsh) != 0 {
		return false
	}
	return bytes.Equal(t[header.TCPMinimumSize:seg.hdrLen], ft[header.TCPMinimumSize:seg.hdrLen])
}

// join appends packet i to fl.
func (c *coalescer) join(fl *flow, i int, seg tcpSeg) {
	fl.members = append(fl.members, i)
	fl.nextSeq += uint32(seg.payload)
	fl.size += seg.payload
	fl.closed = seg.psh || seg.payload < fl.segLen
}

// flush delivers open flow f and removes it from the table.
func (c *coalescer) flush(f int) {
	fl := c.flows[f]
	if len(fl.members) == 1 {
		deliver(c.d, c.batch[fl.members[0]])
	} else {
		c.deliverMerged(&fl)
	}
	copy(c.flows[f:c.open], c.flows[f+1:c.open])
	c.open--
	c.flows[c.open] = fl // keep the members slice for reuse
}

// deliverMerged builds one TCP segment from the members of fl: the first
// member's headers (with the IPv6 payload length, the last member's window
// and any PSH fixed up) followed by every member's payload. Headers and
// payload go in separate views: gVisor copies a whole view when it pulls a
// header out of a view it shares, so the big payload must not be in it.
func (c *coalescer) deliverMerged(fl *flow) {
	first := c.batch[fl.members[0]]
	last := c.batch[fl.members[len(fl.members)-1]]
	hdrLen := header.IPv6MinimumSize + tcpHeaderLen(first)
	hv := buffer.NewViewWithData(first[:hdrLen])
	h := hv.AsSlice()
	binary.BigEndian.PutUint16(h[4:6], uint16(fl.size-header.IPv6MinimumSize))
	tcp, lt := h[header.IPv6MinimumSize:], last[header.IPv6MinimumSize:]
	tcp[13] |= lt[13] & byte(header.TCPFlagPsh)
	copy(tcp[14:16], lt[14:16]) // window
	pv := buffer.NewView(fl.size - hdrLen)
	for _, i := range fl.members {
		pv.Write(c.batch[i][hdrLen:])
	}
	payload := buffer.MakeWithView(hv)
	payload.Append(pv)
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: payload})
	pkt.NetworkProtocolNumber = header.IPv6ProtocolNumber
	pkt.RXChecksumValidated = true
	c.d.DeliverNetworkPacket(header.IPv6ProtocolNumber, pkt)
	pkt.DecRef()
}

// deliver hands one packet to the stack (copying it: p belongs to the node).
func deliver(d stack.NetworkDispatcher, p []byte) {
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(p)})
	pkt.NetworkProtocolNumber = header.IPv6ProtocolNumber
	pkt.RXChecksumValidated = true
	d.DeliverNetworkPacket(header.IPv6ProtocolNumber, pkt)
	pkt.DecRef()
}

// tcpSeg describes a TCP data segment that may be coalesced.
type tcpSeg struct {
	key     flowKey
	seq     uint32
	hdrLen  int // TCP header length
	payload int // TCP payload length
	psh     bool
}

// tcpData reports whether p is a plain TCP data segment (TCP directly after
// the IPv6 header, exact length, ACK set, no SYN/FIN/RST/URG/ECE/CWR, some
// payload) and describes it.
func tcpData(p []byte) (tcpSeg, bool) {
	key, ok := tcpFlowKey(p)
	if !ok || int(binary.BigEndian.Uint16(p[4:6]))+header.IPv6MinimumSize != len(p) {
		return tcpSeg{}, false
	}
	t := p[header.IPv6MinimumSize:]
	hl := tcpHeaderLen(p)
	flags := t[13]
	const allowed = byte(header.TCPFlagAck | header.TCPFlagPsh)
	if hl < header.TCPMinimumSize || hl >= len(t) || flags&^allowed != 0 || flags&byte(header.TCPFlagAck) == 0 {
		return tcpSeg{}, false
	}
	return tcpSeg{
		key:     key,
		seq:     binary.BigEndian.Uint32(t[4:8]),
		hdrLen:  hl,
		payload: len(t) - hl,
		psh:     flags&byte(header.TCPFlagPsh) != 0,
	}, true
}

// tcpFlowKey returns the flow key of p if p is IPv6 with TCP directly after
// the fixed header.
func tcpFlowKey(p []byte) (flowKey, bool) {
	var k flowKey
	if len(p) < header.IPv6MinimumSize+header.TCPMinimumSize || p[6] != uint8(header.TCPProtocolNumber) {
		return k, false
	}
	copy(k[:32], p[8:40])
	copy(k[32:], p[40:44])
	return k, true
}

// tcpHeaderLen returns the TCP data offset in bytes of an IPv6/TCP packet.
func tcpHeaderLen(p []byte) int {
	return int(p[header.IPv6MinimumSize+12]>>4) * 4
}
