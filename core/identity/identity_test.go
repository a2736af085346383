package identity

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Vectors from spec §1.3 (BLAKE3 rule, v0.7.10). The README's examples are
// stale BLAKE2b results and must not be used.
func TestAddressVectors(t *testing.T) {
	tests := []struct{ key, addr string }{
		{"a47c1d6f2a15b2c670d3a88fbe0aeb301ced12f7bcb4c8e3aa877b20f8559c02", "548:c783:d7ce:74a3:9ba1:a0cb:ae21:338d"},
		{"abd16194646defe7ad2318a0f0a69eb2e3fe939c3b0b51cf0bb88bb8028ecd1d", "597:d890:a254:dd45:2bc6:9a47:40d5:ed83"},
		{"955bf6bea5e1150fd8e270c12e5b2fc08f08f7c5f3799d10550096cc137d671b", "514:74ce:dd13:296f:ada7:4d2e:9335:acac"},
		{"bb39b4a3a4efd70f3e05e37887677e02efbda14681d0acd3882bc0f754792c32", "57f:ad8b:cfa2:e46a:adb7:fe0d:4878:1f71"},
		{"0000000000000000000000000000000000000000000000000000000000000000", "5da:83c1:819a:5372:dae1:238f:c1de:d123"},
	}
	for _, tt := range tests {
		k, err := ParsePublicKey(tt.key)
		if err != nil {
			t.Fatal(err)
		}
		want := netip.MustParseAddr(tt.addr)
		if got := AddressOf(k); got != want {
			t.Errorf("AddressOf(%s) = %s, want %s", tt.key[:8], got, want)
		}
		wantNet := netip.PrefixFrom(want, 64).Masked()
		if got := SubnetOf(k); got != wantNet {
			t.Errorf("SubnetOf(%s) = %s, want %s", tt.key[:8], got, wantNet)
		}
		if !InOverlay(AddressOf(k)) {
			t.Errorf("address %s not in 400::/7", AddressOf(k))
		}
	}
}

func seq(from byte) (s [32]byte) {
	for i := range s {
		s[i] = from + byte(i)
	}
	return s
}

// The key-pair and shared-secret vector of spec §1.3.
func TestKeyPairVector(t *testing.T) {
	a, err := NewKeyPair(seq(1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewKeyPair(seq(0x80))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a.Public().String(), "07a37cbc142093c8b755dc1b10e86cb426374ad16aa853ed0bdfc0b2b86d1c7c"; got != want {
		t.Errorf("public A = %s, want %s", got, want)
	}
	if got, want := b.Public().String(), "493e82fc74464a59268817623d2053c5eb8e2cc4a988b4fee179ec6b010d531d"; got != want {
		t.Errorf("public B = %s, want %s", got, want)
	}
	if got, want := a.Address(), netip.MustParseAddr("5a6:f0c6:f365:177d:66be:4a2b:d9fd:b59e"); got != want {
		t.Errorf("address A = %s, want %s", got, want)
	}
	if got, want := b.Address(), netip.MustParseAddr("4e7:5ef0:bce0:3097:f411:ef50:242b:57a4"); got != want {
		t.Errorf("address B = %s, want %s", got, want)
	}
	ab, err := a.SharedKey(b.Public())
	if err != nil {
		t.Fatal(err)
	}
	ba, err := b.SharedKey(a.Public())
	if err != nil {
		t.Fatal(err)
	}
	want := "5266019be756db8c25a94f398234f82d8fc04c95ca6375587edaf39ce04cc631"
	if hex.EncodeToString(ab[:]) != want || ab != ba {
		t.Errorf("shared = %x / %x, want %s", ab, ba, want)
	}
}

// The worked example of spec §5.6 (with the corrected tag of §15.1).
func TestSealVector(t *testing.T) {
	a, _ := NewKeyPair(seq(1))
	b, _ := NewKeyPair(seq(0x80))
	sa, err := a.SharedSecret(b.Public())
	if err != nil {
		t.Fatal(err)
	}
	plain := mustHex(t, "01000000"+"6000000000003b40"+"05a6f0c6f365177d66be4a2bd9fdb59e"+"04e75ef0bce03097f411ef50242b57a4")
	var nonce [NonceSize]byte
	copy(nonce[:], mustHex(t, "a0a1a2a3a4a5a6a7a8a9aaab"))
	body := sa.sealWithNonce(nil, plain, &nonce)
	want := mustHex(t, "18ce6c97d02c574446935e8c5d9b3ad53e69da2f1a7c3f83f855c9529bd158eda67883a616e099dc84015c78"+
		"23d0b40d9f935389eb8776e7b4959a25"+"a0a1a2a3a4a5a6a7a8a9aaab")
	if !bytes.Equal(body, want) {
		t.Fatalf("sealed body\n got %x\nwant %x", body, want)
	}
	sb, _ := b.SharedSecret(a.Public())
	got, err := sb.Open(nil, body)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %x, %v; want %x", got, err, plain)
	}
}

func TestOpenRejects(t *testing.T) {
	a, _ := GenerateKeyPair()
	b, _ := GenerateKeyPair()
	s, _ := a.SharedSecret(b.Public())
	body := s.Seal(nil, []byte("hello overlay"))
	if len(body) != len("hello overlay")+Overhead {
		t.Fatalf("sealed length %d", len(body))
	}
	for i := range body {
		bad := bytes.Clone(body)
		bad[i] ^= 0x40
		if _, err := s.Open(nil, bad); !errors.Is(err, ErrOpen) {
			t.Fatalf("flipped byte %d: Open err = %v, want ErrOpen", i, err)
		}
	}
	for n := 0; n < Overhead; n++ {
		if _, err := s.Open(nil, body[:n]); !errors.Is(err, ErrOpen) {
			t.Fatalf("short body %d: err = %v", n, err)
		}
	}
	c, _ := GenerateKeyPair()
	other, _ := a.SharedSecret(c.Public())
	if _, err := other.Open(nil, body); !errors.Is(err, ErrOpen) {
		t.Fatalf("wrong key: err = %v", err)
	}
}

func TestInPlace(t *testing.T) {
	a, _ := GenerateKeyPair()
	s, _ := a.SharedSecret(a.Public())
	buf := make([]byte, 100, 100+Overhead)
	for i := range buf {
		buf[i] = byte(i)
	}
	want := bytes.Clone(buf)
	sealed := s.SealInPlace(buf, len(buf))
	if &sealed[0] != &buf[0] {
		t.Fatal("SealInPlace moved the buffer")
	}
	got, err := s.Open(sealed[:0], sealed)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("open in place = %v", err)
	}
}

func TestLowOrderKey(t *testing.T) {
	a, _ := GenerateKeyPair()
	if _, err := a.SharedSecret(PublicKey{}); !errors.Is(err, ErrLowOrderKey) {
		t.Fatalf("zero key: err = %v, want ErrLowOrderKey", err)
	}
}

func TestParsePublicKey(t *testing.T) {
	good := "A47C1D6F2A15B2C670D3A88FBE0AEB301CED12F7BCB4C8E3AA877B20F8559C02"
	k, err := ParsePublicKey(good)
	if err != nil {
		t.Fatal(err)
	}
	if k.String() != "a47c1d6f2a15b2c670d3a88fbe0aeb301ced12f7bcb4c8e3aa877b20f8559c02" {
		t.Fatalf("String = %s", k)
	}
	for _, bad := range []string{"", "a47c", good + "00", good[:63] + "g", " " + good[1:]} {
		if _, err := ParsePublicKey(bad); !errors.Is(err, ErrKeyText) {
			t.Errorf("ParsePublicKey(%q) err = %v, want ErrKeyText", bad, err)
		}
	}
	var u PublicKey
	if err := u.UnmarshalText([]byte(k.String())); err != nil || u != k {
		t.Fatalf("UnmarshalText = %v", err)
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "priv_key.bin")
	kp, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created {
		t.Fatalf("create: %v created=%v", err, created)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != 32 || st.Mode().Perm() != KeyFileMode {
		t.Fatalf("key file size %d mode %v", st.Size(), st.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	sec := kp.Secret()
	if !bytes.Equal(raw, sec[:]) {
		t.Fatal("key file is not the raw 32 secret bytes")
	}
	again, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created || again.Public() != kp.Public() {
		t.Fatalf("reload: %v created=%v", err, created)
	}
	if err := WriteKeyFile(path, kp, false); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("overwrite without force: %v", err)
	}
	other, _ := GenerateKeyPair()
	if err := WriteKeyFile(path, other, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := LoadKeyFile(path); got.Public() != other.Public() {
		t.Fatal("forced write did not replace the key")
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("too short"), 0o600)
	if _, err := LoadKeyFile(short); err == nil {
		t.Fatal("short key file accepted")
	}
	// The reference reads the first 32 bytes and ignores the rest.
	long := filepath.Join(dir, "long")
	os.WriteFile(long, append(raw, []byte("trailing")...), 0o600)
	if got, err := LoadKeyFile(long); err != nil || got.Public() != kp.Public() {
		t.Fatalf("long key file: %v", err)
	}
}

func TestSameSubnet(t *testing.T) {
	a := netip.MustParseAddr("5a6:f0c6:f365:177d:66be:4a2b:d9fd:b59e")
	if !SameSubnet(a, netip.MustParseAddr("5a6:f0c6:f365:177d::1")) {
		t.Error("same /64 not detected")
	}
	if SameSubnet(a, netip.MustParseAddr("5a6:f0c6:f365:177e::1")) {
		t.Error("different /64 reported same")
	}
	if InOverlay(netip.MustParseAddr("600::1")) || InOverlay(netip.MustParseAddr("1.2.3.4")) {
		t.Error("InOverlay accepts outside 400::/7")
	}
}

func FuzzParsePublicKey(f *testing.F) {
	f.Add("a47c1d6f2a15b2c670d3a88fbe0aeb301ced12f7bcb4c8e3aa877b20f8559c02")
	f.Add("zz")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParsePublicKey(s)
		if err != nil {
			return
		}
		if k2, err := ParsePublicKey(k.String()); err != nil || k2 != k {
			t.Fatalf("round trip of %q failed", s)
		}
	})
}

func FuzzOpen(f *testing.F) {
	a, _ := NewKeyPair(seq(1))
	s, _ := a.SharedSecret(a.Public())
	f.Add(s.Seal(nil, []byte("seed")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		if out, err := s.Open(nil, body); err == nil && len(out) != len(body)-Overhead {
			t.Fatalf("opened length %d from %d", len(out), len(body))
		}
	})
}

func BenchmarkSealOpen1400(b *testing.B) {
	a, _ := GenerateKeyPair()
	c, _ := GenerateKeyPair()
	sa, _ := a.SharedSecret(c.Public())
	sc, _ := c.SharedSecret(a.Public())
	buf := make([]byte, 1400, 1400+Overhead)
	b.SetBytes(1400)
	b.ReportAllocs()
	for b.Loop() {
		sealed := sa.SealInPlace(buf, 1400)
		if _, err := sc.Open(sealed[:0], sealed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAddressOf(b *testing.B) {
	k := PublicKey{1, 2, 3}
	b.ReportAllocs()
	for b.Loop() {
		_ = AddressOf(k)
	}
}

func BenchmarkSeal1400(b *testing.B) {
	a, _ := GenerateKeyPair()
	s, _ := a.SharedSecret(a.Public())
	buf := make([]byte, 1400, 1400+Overhead)
	b.SetBytes(1400)
	b.ReportAllocs()
	for b.Loop() {
		s.SealInPlace(buf, 1400)
	}
}

func BenchmarkOpen1400(b *testing.B) {
	a, _ := GenerateKeyPair()
	s, _ := a.SharedSecret(a.Public())
	sealed := s.Seal(nil, make([]byte, 1400))
	dst := make([]byte, 0, 1400)
	b.SetBytes(1400)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Open(dst, sealed); err != nil {
			b.Fatal(err)
		}
	}
}
