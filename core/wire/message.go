package wire

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// Message-bus frames (spec §7.1) travel as the payload of KindMessage data
// packets: a 12-byte header (id, flags, reserved) and a body by flag.
const (
	MessageHeaderSize = 12
	// MessageChunkSize is the chunk size the reference sends and expects.
	MessageChunkSize = 1300
	// MaxTopicSize is the largest topic, in bytes.
	MaxTopicSize = 255
	// MessageChecksumSize is the size of the BLAKE3-256 checksum in DONE.
	MessageChecksumSize = 32
)

// Message flags (u16 bits).
const (
	MsgInit    uint16 = 0x8000
	MsgDone    uint16 = 0x4000
	MsgAborted uint16 = 0x2000
	MsgChunk   uint16 = 0x1000
	MsgRead    uint16 = 0x0800
	MsgReply   uint16 = 0x0400
	MsgAck     uint16 = 0x0100
)

// ErrMessage is returned for a malformed message frame.
var ErrMessage = errors.New("wire: bad message frame")

// MessageID is the 8-byte random id of a message; replies reuse it.
type MessageID [8]byte

// String returns 16 lowercase hex digits, the API form.
func (id MessageID) String() string { return hex.EncodeToString(id[:]) }

// ParseMessageID parses 16 hex digits.
func ParseMessageID(s string) (MessageID, error) {
	var id MessageID
	if len(s) != 16 {
		return id, fmt.Errorf("wire: message id %q: want 16 hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("wire: message id %q: %w", s, err)
	}
	return id, nil
}

// MessageKind is the frame kind selected by the flags.
type MessageKind uint8

// Frame kinds, in the order the flags are tested.
const (
	MessageInit MessageKind = iota + 1
	MessageChunk
	MessageDone
	MessageRead
	MessageAborted
)

// MessageFrame is one decoded frame. Topic and Data alias the input.
type MessageFrame struct {
	ID    MessageID
	Flags uint16
	Kind  MessageKind

	// INIT
	Length uint64
	Topic  []byte
	// CHUNK
	ChunkIndex, ChunkOffset, ChunkSize uint64
	Data                               []byte
	// DONE
	ChunkCount uint64
	Checksum   [MessageChecksumSize]byte
}

// Ack reports whether the frame acknowledges one we sent.
func (f *MessageFrame) Ack() bool { return f.Flags&MsgAck != 0 }

// Reply reports whether the frame belongs to a reply transfer.
func (f *MessageFrame) Reply() bool { return f.Flags&MsgReply != 0 }

// DecodeMessage parses a message frame (the plaintext after the user
// header). ACK frames may omit what the reference omits in them: the topic
// bytes of an INIT ACK and the data of a CHUNK ACK.
func DecodeMessage(b []byte) (MessageFrame, error) {
	var f MessageFrame
	if len(b) < MessageHeaderSize {
		return f, fmt.Errorf("%w: %d bytes", ErrMessage, len(b))
	}
	copy(f.ID[:], b[:8])
	f.Flags = binary.BigEndian.Uint16(b[8:10])
	body := b[MessageHeaderSize:]
	ack := f.Flags&MsgAck != 0
	switch {
	case f.Flags&MsgInit != 0:
		f.Kind = MessageInit
		if len(body) < 9 {
			return f, fmt.Errorf("%w: INIT body of %d bytes", ErrMessage, len(body))
		}
		f.Length = binary.BigEndian.Uint64(body[:8])
		n := int(body[8])
		if !ack {
			if len(body) < 9+n {
				return f, fmt.Errorf("%w: topic of %d bytes, have %d", ErrMessage, n, len(body)-9)
			}
			f.Topic = body[9 : 9+n]
		}
	case f.Flags&MsgChunk != 0:
		f.Kind = MessageChunk
		if len(body) < 24 {
			return f, fmt.Errorf("%w: CHUNK body of %d bytes", ErrMessage, len(body))
		}
		f.ChunkIndex = binary.BigEndian.Uint64(body[0:8])
		f.ChunkOffset = binary.BigEndian.Uint64(body[8:16])
		f.ChunkSize = binary.BigEndian.Uint64(body[16:24])
		data := body[24:]
		if uint64(len(data)) > f.ChunkSize {
			data = data[:f.ChunkSize]
		}
		if !ack {
			f.Data = data
		}
	case f.Flags&MsgDone != 0:
		f.Kind = MessageDone
		if len(body) < 8+MessageChecksumSize {
			return f, fmt.Errorf("%w: DONE body of %d bytes", ErrMessage, len(body))
		}
		f.ChunkCount = binary.BigEndian.Uint64(body[:8])
		copy(f.Checksum[:], body[8:8+MessageChecksumSize])
	case f.Flags&MsgRead != 0:
		f.Kind = MessageRead
	case f.Flags&MsgAborted != 0:
		f.Kind = MessageAborted
	default:
		return f, fmt.Errorf("%w: no kind in flags %#04x", ErrMessage, f.Flags)
	}
	return f, nil
}

func appendMessageHeader(dst []byte, id MessageID, flags uint16) []byte {
	dst = append(dst, id[:]...)
	dst = binary.BigEndian.AppendUint16(dst, flags)
	return append(dst, 0, 0)
}

// AppendMessageInit appends an INIT frame (flags may add MsgReply/MsgAck).
// An ACK carries the length and the topic length but no topic bytes, as
// the reference sends it. topic must be at most MaxTopicSize bytes.
func AppendMessageInit(dst []byte, id MessageID, flags uint16, length uint64, topic []byte) []byte {
	dst = appendMessageHeader(dst, id, MsgInit|flags)
	dst = binary.BigEndian.AppendUint64(dst, length)
	dst = append(dst, byte(len(topic)))
	if flags&MsgAck == 0 {
		dst = append(dst, topic...)
	}
	return dst
}

// AppendMessageChunk appends a CHUNK frame; an ACK carries no data.
func AppendMessageChunk(dst []byte, id MessageID, flags uint16, index, offset uint64, data []byte) []byte {
	dst = appendMessageHeader(dst, id, MsgChunk|flags)
	dst = binary.BigEndian.AppendUint64(dst, index)
	dst = binary.BigEndian.AppendUint64(dst, offset)
	dst = binary.BigEndian.AppendUint64(dst, uint64(len(data)))
	if flags&MsgAck == 0 {
		dst = append(dst, data...)
	}
	return dst
}

// AppendMessageChunkAck appends the ACK of a chunk, echoing its header.
func AppendMessageChunkAck(dst []byte, id MessageID, flags uint16, index, offset, size uint64) []byte {
	dst = appendMessageHeader(dst, id, MsgChunk|MsgAck|flags)
	dst = binary.BigEndian.AppendUint64(dst, index)
	dst = binary.BigEndian.AppendUint64(dst, offset)
	return binary.BigEndian.AppendUint64(dst, size)
}

// AppendMessageDone appends a DONE frame with the chunk count and the
// BLAKE3-256 checksum of the whole message.
func AppendMessageDone(dst []byte, id MessageID, flags uint16, chunks uint64, sum *[MessageChecksumSize]byte) []byte {
	dst = appendMessageHeader(dst, id, MsgDone|flags)
	dst = binary.BigEndian.AppendUint64(dst, chunks)
	return append(dst, sum[:]...)
}

// AppendMessageFlag appends a frame with an empty body: READ or ABORTED
// (kind is MsgRead or MsgAborted, flags may add MsgReply/MsgAck).
func AppendMessageFlag(dst []byte, id MessageID, kind, flags uint16) []byte {
	return appendMessageHeader(dst, id, kind|flags)
}
