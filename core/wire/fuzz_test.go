package wire

import (
	"bytes"
	"testing"
)

func seedControl(f *testing.F) {
	for _, tt := range goldenTLVs {
		f.Add(AppendControl(nil, &tt.tlv))
	}
}

// FuzzFrameSize feeds arbitrary streams to the frame splitter and the
// packet decoders, as a link reader does.
func FuzzFrameSize(f *testing.F) {
	seedControl(f)
	f.Add(AppendDataHeader(AppendOuterHeader(nil, TypeData), DataHeader{Length: 2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			n, typ, err := FrameSize(b, 1500)
			if err != nil || n == 0 {
				return
			}
			if n < OuterHeaderSize+4 || n > len(b) {
				t.Fatalf("FrameSize = %d for %d bytes", n, len(b))
			}
			pkt := b[OuterHeaderSize:n]
			if typ == TypeData {
				if _, err := DecodeDataPacket(pkt); err != nil {
					t.Fatalf("complete data frame does not decode: %v", err)
				}
			} else {
				r, err := NewControlReader(pkt)
				if err != nil {
					t.Fatalf("complete control frame has bad header: %v", err)
				}
				var tlv TLV
				for r.Next(&tlv) {
				}
			}
			b = b[n:]
		}
	})
}

// FuzzControl decodes arbitrary control packets and re-encodes every known
// TLV: what we decode we can encode, and the encoding decodes to the same
// value.
func FuzzControl(f *testing.F) {
	for _, tt := range goldenTLVs {
		f.Add(AppendControl(nil, &tt.tlv)[OuterHeaderSize:])
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		r, err := NewControlReader(pkt)
		if err != nil {
			return
		}
		var tlv TLV
		for r.Next(&tlv) {
			if !tlv.Known() || !encodable(&tlv) {
				continue
			}
			enc := AppendControl(nil, &tlv)
			r2, err := NewControlReader(enc[OuterHeaderSize:])
			if err != nil {
				t.Fatalf("re-encoded header: %v", err)
			}
			var back TLV
			if !r2.Next(&back) {
				t.Fatalf("re-encoded TLV does not decode: %v (%x)", r2.Err(), enc)
			}
			if !bytes.Equal(AppendControl(nil, &back), enc) {
				t.Fatalf("re-encoding is not stable: %x", enc)
			}
		}
	})
}

// encodable reports whether we would ever send t: link-local encodings
// are decode-only, as in the reference.
func encodable(t *TLV) bool {
	switch t.Type {
	case TLVUpdate:
		return t.Update.Prefix.IsValid() && !t.Update.Prefix.Addr().IsLinkLocalUnicast()
	case TLVSeqnoRequest:
		return t.SeqnoRequest.Prefix.IsValid() && !t.SeqnoRequest.Prefix.Addr().IsLinkLocalUnicast()
	case TLVRouteRequest:
		return !t.RouteRequest.Prefix.IsValid() || !t.RouteRequest.Prefix.Addr().IsLinkLocalUnicast()
	case TLVIHU:
		return !t.IHU.Addr.IsLinkLocalUnicast()
	}
	return true
}

func FuzzDataPacket(f *testing.F) {
	f.Add(AppendDataHeader(nil, DataHeader{Length: 3, HopLimit: 9}))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeDataPacket(b)
		if err == nil && len(p.Body) != int(p.Length) {
			t.Fatalf("body %d, length %d", len(p.Body), p.Length)
		}
	})
}

func FuzzMessage(f *testing.F) {
	id := MessageID{1}
	f.Add(AppendMessageInit(nil, id, 0, 10, []byte("t")))
	f.Add(AppendMessageChunk(nil, id, 0, 0, 0, []byte("data")))
	f.Add(AppendMessageDone(nil, id, 0, 1, &[32]byte{}))
	f.Add(AppendMessageFlag(nil, id, MsgRead, MsgAck))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			return
		}
		if uint64(len(m.Data)) > m.ChunkSize || len(m.Topic) > MaxTopicSize {
			t.Fatalf("decoded frame exceeds its fields: %+v", m)
		}
	})
}

func FuzzUserHeader(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 0x60})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, p, err := ParseUserHeader(b); err == nil && len(p) != len(b)-UserHeaderSize {
			t.Fatal("payload length")
		}
	})
}

func FuzzRouterID(f *testing.F) {
	f.Add(NewRouterID([32]byte{1}).String())
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseRouterID(s)
		if err == nil {
			if back, err := ParseRouterID(id.String()); err != nil || back != id {
				t.Fatal("round trip")
			}
		}
	})
}
