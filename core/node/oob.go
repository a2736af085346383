package node

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

// Out-of-band ICMP (spec §6.5): a router that cannot deliver a data packet
// tells the packet's source inside a sealed kind-2 payload:
//
//	original destination (16) || IPv6 header || ICMPv6 header || quote
//
// where the quote is the undeliverable packet's sealed body (empty when
// longer than 1232 bytes). Only the source can open the quote, with the
// key it shares with the original destination.
const (
	oobMin = 16 + ipv6HeaderLen + icmpHeaderLen // 64
	oobMax = oobMin + maxICMPQuote              // 1296
)

// sendOOB reports an undeliverable data packet (header h, sealed body) to
// its source. It is dropped when we have no route to the source.
func (n *Node) sendOOB(typ, code uint8, h wire.DataHeader, body []byte) {
	if len(body) > maxICMPQuote {
		body = nil
	}
	bp := n.bufPool.Get().(*[]byte)
	defer n.bufPool.Put(bp)
	buf := *bp
	p := buf[headroom:]
	dst := h.Dst.As16()
	copy(p, dst[:])
	src := n.subnet.Addr() // the reference reports from its /64's network address
	size := 16 + putICMPv6(p[16:], src, h.Src, icmpHopLimit, typ, code, 0, body)
	// The reference routes the report like any packet, so its own
	// forwarding step takes the hop limit from 64 to 63.
	if err := n.originate(nil, buf, size, wire.KindICMP, icmpHopLimit-1, src, h.Src, time.Now(), false); err == nil {
		n.m.OOBSent.Add(1)
	}
}

// receiveOOB turns an out-of-band report from a router on the path into an
// ICMPv6 error for our device: same type and code, from the reporting
// router, quoting our original packet recovered from the sealed quote.
func (n *Node) receiveOOB(s *rxScratch, h wire.DataHeader, hop uint8, payload []byte) {
	if len(payload) < oobMin || len(payload) > oobMax {
		n.m.Malformed.Add(1)
		return
	}
	origDst := netip.AddrFrom16([16]byte(payload[:16]))
	ip := payload[16 : 16+ipv6HeaderLen]
	icmp := payload[16+ipv6HeaderLen : oobMin]
	if ip[0]>>4 != 6 || ip[6] != protoICMPv6 {
		n.m.Malformed.Add(1)
		return
	}
	typ, code := icmp[0], icmp[1]
	if typ != icmpUnreach && typ != icmpTooBig && typ != icmpTimeExceed {
		n.m.Malformed.Add(1)
		return
	}
	fw := n.r.Lookup(origDst)
	if !fw.Keyed() || len(payload) == oobMin {
		return // nothing we can quote
	}
	quote := payload[oobMin:]
	plain, err := fw.Secret().Open(quote[:0], quote)
	if err != nil {
		n.m.CryptoFailures.Add(1)
		return
	}
	kind, orig, err := wire.ParseUserHeader(plain)
	if err != nil || kind != wire.KindPacket || len(orig) < ipv6HeaderLen {
		return // a report about a message or an OOB packet: nothing for the device
	}
	if n.dev == nil {
		n.m.DeviceDropped.Add(1)
		return
	}
	b := s.icmpBuf()
	size := putICMPv6(b[tunOffset:], h.Src, h.Dst, hop, typ, code, binary.BigEndian.Uint32(icmp[4:8]), orig)
	s.dev = append(s.dev, b[:tunOffset+size])
	n.m.ICMPSent.Add(1)
}
