package addr

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Address
		wantErr bool
	}{
		{in: "alice@example.mesh", want: Address{"alice", "example.mesh"}},
		{in: "Alice.Smith@Example.MESH.", want: Address{"alice.smith", "example.mesh"}},
		{in: "a+tag@x", want: Address{"a+tag", "x"}},
		{in: "jürgen@bob.mesh", want: Address{"jürgen", "bob.mesh"}},
		{in: "weird@@x", wantErr: true},
		{in: "noat", wantErr: true},
		{in: "@x", wantErr: true},
		{in: "a@", wantErr: true},
		{in: ".a@x", wantErr: true},
		{in: "a..b@x", wantErr: true},
		{in: "a b@x", wantErr: true},
		{in: "a@-x", wantErr: true},
		{in: "a@x_y", wantErr: true},
		{in: "a@x..y", wantErr: true},
		{in: "a@[1.2.3.4]", wantErr: true},
		{in: strings.Repeat("a", 65) + "@x", wantErr: true},
		{in: "a@" + strings.Repeat("b", 64), wantErr: true},
		{in: "\xff@x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrSyntax) {
				t.Errorf("Parse(%q) err = %v, want ErrSyntax", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestCanonicalDomain(t *testing.T) {
	a := netip.MustParseAddr("5a6:f0c6:f365:177d:66be:4a2b:d9fd:b59e")
	d := CanonicalDomain(a)
	if d != "05a6f0c6f365177d66be4a2bd9fdb59e.mycelium.internal" {
		t.Fatalf("CanonicalDomain = %s", d)
	}
	got, ok := ParseCanonicalDomain(strings.ToUpper(d))
	if !ok || got != a {
		t.Fatalf("ParseCanonicalDomain(%s) = %v %v, want %v", d, got, ok, a)
	}
	for _, bad := range []string{
		"05a6f0c6f365177d66be4a2bd9fdb59e.mycelium.interna",
		"05a6f0c6f365177d66be4a2bd9fdb59.mycelium.internal",
		"x5a6f0c6f365177d66be4a2bd9fdb59e.mycelium.internal",
		"fe80000000000000000000000000000a.mycelium.internal", // outside 400::/7
		"bob.mesh",
	} {
		if _, ok := ParseCanonicalDomain(bad); ok {
			t.Errorf("ParseCanonicalDomain(%q) ok, want rejected", bad)
		}
	}
}

type fakeKeys map[sdk.PublicKey]netip.Addr

func (f fakeKeys) AddressOf(_ context.Context, k sdk.PublicKey) (netip.Addr, error) {
	a, ok := f[k]
	if !ok {
		return netip.Addr{}, sdk.ErrNotFound
	}
	return a, nil
}

func TestResolver(t *testing.T) {
	self, other := sdk.PublicKey{1}, sdk.PublicKey{2}
	selfAddr := netip.MustParseAddr("400::1")
	otherAddr := netip.MustParseAddr("500::2")
	r, err := NewResolver(self, selfAddr, map[string]sdk.PublicKey{"Me.Mesh": self, "bob.mesh": other},
		fakeKeys{self: selfAddr, other: otherAddr})
	if err != nil {
		t.Fatal(err)
	}
	canonOther := CanonicalDomain(otherAddr)
	kinds := map[string]Kind{
		r.Canonical(): KindLocal, "me.mesh": KindLocal, "bob.mesh": KindRemote,
		canonOther: KindRemote, "example.com": KindUnknown,
	}
	for d, want := range kinds {
		if got := r.Classify(d); got != want {
			t.Errorf("Classify(%s) = %v, want %v", d, got, want)
		}
	}
	if got := r.LocalDomains(); len(got) != 2 || got[0] != r.Canonical() || got[1] != "me.mesh" {
		t.Errorf("LocalDomains = %v", got)
	}
	if a, err := r.Route(context.Background(), "bob.mesh"); err != nil || a != otherAddr {
		t.Errorf("Route(bob.mesh) = %v, %v", a, err)
	}
	if _, err := r.Route(context.Background(), "example.com"); !errors.Is(err, ErrNotMesh) {
		t.Errorf("Route(example.com) err = %v, want ErrNotMesh", err)
	}
	peer := sdk.Peer{Key: other, Addr: netip.AddrPortFrom(otherAddr, 1234), Origin: sdk.OriginOverlay}
	if err := r.CheckSender(canonOther, peer); err != nil {
		t.Errorf("CheckSender(own canonical) = %v", err)
	}
	if err := r.CheckSender("bob.mesh", peer); err != nil {
		t.Errorf("CheckSender(own alias) = %v", err)
	}
	if err := r.CheckSender(r.Canonical(), peer); err == nil || !strings.Contains(err.Error(), "400::1") {
		t.Errorf("CheckSender(someone else's canonical) = %v, want mismatch naming 400::1", err)
	}
	if err := r.CheckSender("me.mesh", peer); err == nil {
		t.Error("CheckSender(alias of another key) = nil, want error")
	}
	if err := r.CheckSender("example.com", peer); err == nil {
		t.Error("CheckSender(non-mesh) = nil, want error")
	}
	if _, err := NewResolver(self, selfAddr, map[string]sdk.PublicKey{r.Canonical(): self}, fakeKeys{}); err == nil {
		t.Error("NewResolver accepted a canonical domain as alias")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"alice@example.mesh", "a..b@x", "jürgen@bob.mesh", "@", "a@-x", "\xff@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			return
		}
		// A parsed address re-parses to itself.
		b, err := Parse(a.String())
		if err != nil || a != b {
			t.Fatalf("Parse(%q) = %+v, but Parse(%q) = %+v, %v", s, a, a.String(), b, err)
		}
	})
}

func FuzzParseCanonicalDomain(f *testing.F) {
	f.Add("05a6f0c6f365177d66be4a2bd9fdb59e.mycelium.internal")
	f.Add("bob.mesh")
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := ParseCanonicalDomain(s)
		if ok && CanonicalDomain(a) != strings.ToLower(s) {
			t.Fatalf("round trip of %q gave %q", s, CanonicalDomain(a))
		}
	})
}
