package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Control packet header (spec §3.3): [magic 42][version 3][u16 body length].
const (
	controlMagic      = 42
	controlVersion    = 3
	ControlHeaderSize = 4
)

// TLV types the reference knows. Pad1 and PadN are standard Babel padding:
// the reference never sends them, we skip them on receipt.
const (
	TLVPad1         = 0
	TLVPadN         = 1
	TLVHello        = 4
	TLVIHU          = 5
	TLVUpdate       = 8
	TLVRouteRequest = 9
	TLVSeqnoRequest = 10
)

// Fixed values the reference sends.
const (
	HelloFlagUnicast = 0x8000
	// HelloInterval is the Hello interval field, centiseconds (20 s).
	HelloInterval = 2000
	// IHUInterval is the IHU interval field, centiseconds (60 s).
	IHUInterval = 6000
	// UpdateInterval is the Update interval field, centiseconds (300 s).
	UpdateInterval = 30000
	// SeqnoRequestHops is the hop count of an originated seqno request.
	SeqnoRequestHops = 64
)

// ErrTLV is returned for a TLV whose body does not parse.
var ErrTLV = errors.New("wire: bad TLV")

// Hello is TLV 4 (6 bytes).
type Hello struct {
	Flags    uint16
	Seqno    SeqNo
	Interval uint16 // centiseconds
}

// IHU is TLV 5 (6 bytes + address). Addr is the zero Addr for AE 0.
type IHU struct {
	RxCost   Metric
	Interval uint16 // centiseconds; the reference never sends 0
	Addr     netip.Addr
}

// Update is TLV 8 with the reference's appended router id.
type Update struct {
	Flags    uint8
	Interval uint16 // centiseconds; 0 means "will not repeat"
	Seqno    SeqNo
	Metric   Metric
	Prefix   netip.Prefix
	RouterID RouterID
}

// RouteRequest is TLV 9 in the reference's non-standard layout, with a
// leading generation byte. A zero (invalid) Prefix is a wildcard request.
type RouteRequest struct {
	Generation uint8
	Prefix     netip.Prefix
}

// Wildcard reports whether r asks for the full route table.
func (r RouteRequest) Wildcard() bool { return !r.Prefix.IsValid() }

// SeqnoRequest is TLV 10 in the reference's field order: the router id
// comes before the prefix.
type SeqnoRequest struct {
	Seqno    SeqNo
	HopCount uint8 // >= 1
	RouterID RouterID
	Prefix   netip.Prefix
}

// TLV is one decoded TLV. Type selects which field is meaningful. It is a
// plain value so decoding allocates nothing.
type TLV struct {
	Type         uint8
	Hello        Hello
	IHU          IHU
	Update       Update
	RouteRequest RouteRequest
	SeqnoRequest SeqnoRequest
}

// Known reports whether t is a TLV type we act on.
func (t *TLV) Known() bool {
	switch t.Type {
	case TLVHello, TLVIHU, TLVUpdate, TLVRouteRequest, TLVSeqnoRequest:
		return true
	}
	return false
}

// ControlReader walks the TLVs of one control packet. Unlike the
// reference, it delimits by the header's body length and skips unknown
// TLVs, so one odd TLV cannot desynchronise a link.
type ControlReader struct {
	b   []byte
	err error
}

// NewControlReader checks the control header at the start of pkt (the
// packet without the outer header) and returns a reader over its TLVs.
func NewControlReader(pkt []byte) (ControlReader, error) {
	if len(pkt) < ControlHeaderSize {
		return ControlReader{}, fmt.Errorf("%w: control header", ErrShort)
	}
	if pkt[0] != controlMagic || pkt[1] != controlVersion {
		return ControlReader{}, fmt.Errorf("%w: magic %d version %d", ErrControlHead, pkt[0], pkt[1])
	}
	n := int(binary.BigEndian.Uint16(pkt[2:4]))
	if len(pkt) < ControlHeaderSize+n {
		return ControlReader{}, fmt.Errorf("%w: control body of %d bytes, have %d", ErrShort, n, len(pkt)-ControlHeaderSize)
	}
	return ControlReader{b: pkt[ControlHeaderSize : ControlHeaderSize+n]}, nil
}

// Next decodes the next TLV into t. It returns false at the end of the
// packet or on an error (see Err). Unknown TLV types are returned with
// t.Known() false; the caller ignores them.
func (r *ControlReader) Next(t *TLV) bool {
	if r.err != nil || len(r.b) == 0 {
		return false
	}
	if r.b[0] == TLVPad1 {
		*t = TLV{Type: TLVPad1}
		r.b = r.b[1:]
		return true
	}
	if len(r.b) < 2 {
		r.err = fmt.Errorf("%w: TLV header", ErrShort)
		return false
	}
	typ, n := r.b[0], int(r.b[1])
	if len(r.b) < 2+n {
		r.err = fmt.Errorf("%w: TLV type %d of %d bytes, have %d", ErrShort, typ, n, len(r.b)-2)
		return false
	}
	body := r.b[2 : 2+n]
	r.b = r.b[2+n:]
	if err := decodeTLV(typ, body, t); err != nil {
		r.err = err
		return false
	}
	return true
}

// Err returns the first decoding error.
func (r *ControlReader) Err() error { return r.err }

func decodeTLV(typ uint8, b []byte, t *TLV) error {
	*t = TLV{Type: typ}
	var err error
	switch typ {
	case TLVHello:
		err = decodeHello(b, &t.Hello)
	case TLVIHU:
		err = decodeIHU(b, &t.IHU)
	case TLVUpdate:
		err = decodeUpdate(b, &t.Update)
	case TLVRouteRequest:
		err = decodeRouteRequest(b, &t.RouteRequest)
	case TLVSeqnoRequest:
		err = decodeSeqnoRequest(b, &t.SeqnoRequest)
	}
	if err != nil {
		return fmt.Errorf("%w: type %d: %w", ErrTLV, typ, err)
	}
	return nil
}

func decodeHello(b []byte, h *Hello) error {
	if len(b) < 6 {
		return ErrShort
	}
	h.Flags = binary.BigEndian.Uint16(b[0:2]) & HelloFlagUnicast
	h.Seqno = SeqNo(binary.BigEndian.Uint16(b[2:4]))
	h.Interval = binary.BigEndian.Uint16(b[4:6])
	return nil
}

func decodeIHU(b []byte, h *IHU) error {
	if len(b) < 6 {
		return ErrShort
	}
	h.RxCost = Metric(binary.BigEndian.Uint16(b[2:4]))
	h.Interval = binary.BigEndian.Uint16(b[4:6])
	a, _, err := decodeAddr(b[0], b[6:])
	h.Addr = a
	return err
}

func decodeUpdate(b []byte, u *Update) error {
	if len(b) < 10 {
		return ErrShort
	}
	u.Flags = b[1] & 0xC0
	u.Interval = binary.BigEndian.Uint16(b[4:6])
	u.Seqno = SeqNo(binary.BigEndian.Uint16(b[6:8]))
	u.Metric = Metric(binary.BigEndian.Uint16(b[8:10]))
	p, n, err := decodePrefix(b[0], b[2], b[10:])
	if err != nil {
		return err
	}
	if b[0] == AEWildcard {
		return fmt.Errorf("%w: update for a wildcard prefix", ErrAE)
	}
	u.Prefix = p
	rest := b[10+n:]
	if len(rest) < RouterIDSize {
		return fmt.Errorf("%w: router id", ErrShort)
	}
	u.RouterID = RouterID(rest[:RouterIDSize])
	return nil
}

func decodeRouteRequest(b []byte, r *RouteRequest) error {
	if len(b) < 3 {
		return ErrShort
	}
	r.Generation = b[0]
	p, _, err := decodePrefix(b[1], b[2], b[3:])
	r.Prefix = p
	return err
}

func decodeSeqnoRequest(b []byte, s *SeqnoRequest) error {
	if len(b) < 6+RouterIDSize {
		return ErrShort
	}
	s.Seqno = SeqNo(binary.BigEndian.Uint16(b[2:4]))
	s.HopCount = b[4]
	if s.HopCount == 0 {
		return errors.New("hop count 0")
	}
	s.RouterID = RouterID(b[6 : 6+RouterIDSize])
	if b[0] == AEWildcard {
		return fmt.Errorf("%w: seqno request for a wildcard prefix", ErrAE)
	}
	p, _, err := decodePrefix(b[0], b[1], b[6+RouterIDSize:])
	s.Prefix = p
	return err
}
