package wire

import "testing"

// BenchmarkControl decodes and re-encodes each control TLV. The hot path
// must not allocate.
func BenchmarkControl(b *testing.B) {
	for _, tt := range goldenTLVs {
		pkt := AppendControl(nil, &tt.tlv)
		b.Run(tt.name, func(b *testing.B) {
			buf := make([]byte, 0, MaxControlPacket)
			var tlv TLV
			b.ReportAllocs()
			for b.Loop() {
				r, err := NewControlReader(pkt[OuterHeaderSize:])
				if err != nil || !r.Next(&tlv) {
					b.Fatal("decode")
				}
				buf = AppendControl(buf[:0], &tlv)
			}
		})
	}
}

func BenchmarkDataHeader(b *testing.B) {
	buf := AppendDataHeader(nil, DataHeader{Length: 1400, HopLimit: 64})
	b.ReportAllocs()
	for b.Loop() {
		h, err := DecodeDataHeader(buf)
		if err != nil {
			b.Fatal(err)
		}
		PutDataHeader(buf, h)
	}
}
