package sdk

import (
	"bytes"
	"errors"
	"testing"
)

func preambleSeeds() [][]byte {
	seeds := [][]byte{goldenOverlay()}
	if b, err := EncodePreamble(loopbackPeer()); err == nil {
		seeds = append(seeds, b)
	}
	for _, tc := range badPreambles() {
		seeds = append(seeds, tc.in)
	}
	return seeds
}

// FuzzDecodePreamble checks that decoding never panics, that every error
// wraps ErrBadPreamble, that accepted input re-encodes to the same bytes
// (NOOP TLVs and TLV order aside, so it compares decoded peers), and that
// ReadPreamble agrees with DecodePreamble.
func FuzzDecodePreamble(f *testing.F) {
	for _, s := range preambleSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePreamble(b)
		rp, rerr := ReadPreamble(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrBadPreamble) {
				t.Fatalf("DecodePreamble error %v does not wrap ErrBadPreamble", err)
			}
			if rerr == nil && len(b) <= MaxPreambleLen {
				// ReadPreamble may accept a prefix followed by trailing
				// bytes; the prefix must then decode on its own.
				enc, _ := EncodePreamble(rp)
				if _, err := DecodePreamble(enc); err != nil {
					t.Fatalf("ReadPreamble accepted %+v that does not re-encode: %v", rp, err)
				}
			}
			return
		}
		if rerr != nil || rp != p {
			t.Fatalf("ReadPreamble = %+v, %v; DecodePreamble = %+v", rp, rerr, p)
		}
		enc, err := EncodePreamble(p)
		if err != nil {
			t.Fatalf("EncodePreamble(%+v) of a decoded peer: %v", p, err)
		}
		again, err := DecodePreamble(enc)
		if err != nil || again != p {
			t.Fatalf("re-decode = %+v, %v; want %+v", again, err, p)
		}
	})
}
