package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Outer header (spec §2.3): [version=1][type][0][0].
const (
	ProtocolVersion = 1
	OuterHeaderSize = 4

	TypeData    = 0
	TypeControl = 1
)

// Data packet header (spec §3.2).
const (
	DataHeaderSize = 36
	// MaxDataBody is the largest body length the 16-bit field can carry.
	MaxDataBody = 0xFFFF
)

// Errors returned by the frame decoders.
var (
	ErrShort       = errors.New("wire: truncated packet")
	ErrVersion     = errors.New("wire: unknown protocol version")
	ErrPacketType  = errors.New("wire: unknown packet type")
	ErrTooLarge    = errors.New("wire: packet exceeds the size limit")
	ErrControlHead = errors.New("wire: bad control packet header")
)

// FrameSize inspects the start of a link's byte stream and returns the
// length of the first complete packet (outer header included) and its type.
// It returns n == 0 and a nil error when more bytes are needed, and an
// error when the stream can never parse (the link must be dropped).
// maxBody bounds the body length a peer may announce.
func FrameSize(b []byte, maxBody int) (n int, typ byte, err error) {
	if len(b) < OuterHeaderSize+4 {
		if len(b) >= 2 {
			if err := checkOuter(b); err != nil {
				return 0, 0, err
			}
		}
		return 0, 0, nil
	}
	if err := checkOuter(b); err != nil {
		return 0, 0, err
	}
	typ = b[1]
	switch typ {
	case TypeData:
		body := int(binary.BigEndian.Uint32(b[4:8]) >> 8 & 0xFFFF)
		if body > maxBody {
			return 0, typ, fmt.Errorf("%w: data body of %d bytes", ErrTooLarge, body)
		}
		n = OuterHeaderSize + DataHeaderSize + body
	default: // TypeControl
		if b[4] != controlMagic || b[5] != controlVersion {
			return 0, typ, fmt.Errorf("%w: magic %d version %d", ErrControlHead, b[4], b[5])
		}
		body := int(binary.BigEndian.Uint16(b[6:8]))
		n = OuterHeaderSize + ControlHeaderSize + body
	}
	if len(b) < n {
		return 0, typ, nil
	}
	return n, typ, nil
}

func checkOuter(b []byte) error {
	if b[0] != ProtocolVersion {
		return fmt.Errorf("%w %d", ErrVersion, b[0])
	}
	if b[1] != TypeData && b[1] != TypeControl {
		return fmt.Errorf("%w %d", ErrPacketType, b[1])
	}
	return nil
}

// AppendOuterHeader appends the 4-byte outer header for typ.
func AppendOuterHeader(dst []byte, typ byte) []byte {
	return append(dst, ProtocolVersion, typ, 0, 0)
}

// DataHeader is the cleartext header of a data packet. The body that
// follows is Length bytes of sealed payload.
type DataHeader struct {
	Length   uint16
	HopLimit uint8
	Src, Dst netip.Addr
}

// DecodeDataHeader parses the 36-byte header at the start of b.
func DecodeDataHeader(b []byte) (DataHeader, error) {
	if len(b) < DataHeaderSize {
		return DataHeader{}, fmt.Errorf("%w: data header needs %d bytes, have %d", ErrShort, DataHeaderSize, len(b))
	}
	w := binary.BigEndian.Uint32(b[:4])
	return DataHeader{
		Length:   uint16(w >> 8),
		HopLimit: uint8(w),
		Src:      netip.AddrFrom16([16]byte(b[4:20])),
		Dst:      netip.AddrFrom16([16]byte(b[20:36])),
	}, nil
}

// PutDataHeader writes h into b[:36].
func PutDataHeader(b []byte, h DataHeader) {
	binary.BigEndian.PutUint32(b[:4], uint32(h.Length)<<8|uint32(h.HopLimit))
	src, dst := h.Src.As16(), h.Dst.As16()
	copy(b[4:20], src[:])
	copy(b[20:36], dst[:])
}

// AppendDataHeader appends h.
func AppendDataHeader(dst []byte, h DataHeader) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, DataHeaderSize)...)
	PutDataHeader(dst[n:], h)
	return dst
}

// DataPacket is a decoded data packet; Body aliases the decoded buffer.
type DataPacket struct {
	DataHeader
	Body []byte
}

// DecodeDataPacket parses a data packet without its outer header. Bytes
// after the body are ignored (as the reference ignores trailing bytes of a
// QUIC datagram).
func DecodeDataPacket(b []byte) (DataPacket, error) {
	h, err := DecodeDataHeader(b)
	if err != nil {
		return DataPacket{}, err
	}
	end := DataHeaderSize + int(h.Length)
	if len(b) < end {
		return DataPacket{}, fmt.Errorf("%w: data body of %d bytes, have %d", ErrShort, h.Length, len(b)-DataHeaderSize)
	}
	return DataPacket{DataHeader: h, Body: b[DataHeaderSize:end]}, nil
}

// User header inside a sealed body (spec §5.2): [1][kind][0][0].
const (
	UserHeaderSize    = 4
	UserHeaderVersion = 1

	KindPacket  = 0 // a raw IPv6 packet
	KindMessage = 1 // a message-bus frame
	KindICMP    = 2 // an out-of-band ICMP report from a router on the path
)

// ErrUserHeader is returned for a plaintext with a bad user header.
var ErrUserHeader = errors.New("wire: bad user header")

// PutUserHeader writes the user header for kind into b[:4].
func PutUserHeader(b []byte, kind byte) {
	b[0], b[1], b[2], b[3] = UserHeaderVersion, kind, 0, 0
}

// ParseUserHeader returns the payload kind and the payload after the user
// header. Bytes 2..3 are ignored, as in the reference.
func ParseUserHeader(plain []byte) (kind byte, payload []byte, err error) {
	if len(plain) < UserHeaderSize {
		return 0, nil, fmt.Errorf("%w: %d bytes", ErrUserHeader, len(plain))
	}
	if plain[0] != UserHeaderVersion {
		return 0, nil, fmt.Errorf("%w: version %d", ErrUserHeader, plain[0])
	}
	return plain[1], plain[UserHeaderSize:], nil
}
