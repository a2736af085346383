package wire

import "encoding/binary"

// MaxControlPacket is the largest control packet we emit, outer header
// included (an Update for a /128: 4 + 4 + 2 + 66).
const MaxControlPacket = OuterHeaderSize + ControlHeaderSize + 2 + 10 + 16 + RouterIDSize

// AppendControl appends a complete link packet carrying the one TLV t:
// outer header, control header and the TLV, exactly as the reference
// expects (one TLV per packet, body length = TLV length + 2). t.Type must
// be one of the five known types; AppendControl panics otherwise, since
// that is a programming error, never input.
func AppendControl(dst []byte, t *TLV) []byte {
	n := tlvBodyLen(t)
	dst = append(dst, ProtocolVersion, TypeControl, 0, 0,
		controlMagic, controlVersion, byte((n+2)>>8), byte(n+2),
		t.Type, byte(n))
	switch t.Type {
	case TLVHello:
		return appendHello(dst, &t.Hello)
	case TLVIHU:
		return appendIHU(dst, &t.IHU)
	case TLVUpdate:
		return appendUpdate(dst, &t.Update)
	case TLVRouteRequest:
		return appendRouteRequest(dst, &t.RouteRequest)
	case TLVSeqnoRequest:
		return appendSeqnoRequest(dst, &t.SeqnoRequest)
	}
	panic("wire: AppendControl of unknown TLV type")
}

func tlvBodyLen(t *TLV) int {
	switch t.Type {
	case TLVHello:
		return 6
	case TLVIHU:
		switch addrAE(t.IHU.Addr) {
		case AEIPv4:
			return 10
		case AEIPv6:
			return 22
		}
		return 6
	case TLVUpdate:
		return 10 + encodedPrefixLen(t.Update.Prefix) + RouterIDSize
	case TLVRouteRequest:
		return 3 + encodedPrefixLen(t.RouteRequest.Prefix)
	case TLVSeqnoRequest:
		return 6 + RouterIDSize + encodedPrefixLen(t.SeqnoRequest.Prefix)
	}
	return 0
}

func appendU16(dst []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(dst, v) }

func appendHello(dst []byte, h *Hello) []byte {
	dst = appendU16(dst, h.Flags)
	dst = appendU16(dst, uint16(h.Seqno))
	return appendU16(dst, h.Interval)
}

func appendIHU(dst []byte, h *IHU) []byte {
	dst = append(dst, addrAE(h.Addr), 0)
	dst = appendU16(dst, uint16(h.RxCost))
	dst = appendU16(dst, h.Interval)
	return appendAddr(dst, h.Addr)
}

func appendUpdate(dst []byte, u *Update) []byte {
	dst = append(dst, prefixAE(u.Prefix), u.Flags, byte(u.Prefix.Bits()), 0)
	dst = appendU16(dst, u.Interval)
	dst = appendU16(dst, uint16(u.Seqno))
	dst = appendU16(dst, uint16(u.Metric))
	dst = appendPrefix(dst, u.Prefix)
	return append(dst, u.RouterID[:]...)
}

func appendRouteRequest(dst []byte, r *RouteRequest) []byte {
	plen := 0
	if r.Prefix.IsValid() {
		plen = r.Prefix.Bits()
	}
	dst = append(dst, r.Generation, prefixAE(r.Prefix), byte(plen))
	return appendPrefix(dst, r.Prefix)
}

func appendSeqnoRequest(dst []byte, s *SeqnoRequest) []byte {
	dst = append(dst, prefixAE(s.Prefix), byte(s.Prefix.Bits()))
	dst = appendU16(dst, uint16(s.Seqno))
	dst = append(dst, s.HopCount, 0)
	dst = append(dst, s.RouterID[:]...)
	return appendPrefix(dst, s.Prefix)
}
