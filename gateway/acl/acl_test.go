package acl

import (
	"errors"
	"strings"
	"testing"
)

func key(b byte) Key {
	var k Key
	for i := range k {
		k[i] = b
	}
	return k
}

func hexKey(b byte) string { return key(b).String() }

func TestParseEntry(t *testing.T) {
	tests := []struct {
		in      string
		want    Entry
		wantErr string
	}{
		{in: "*", want: Entry{Any: true}},
		{in: " * ", want: Entry{Any: true}},
		{in: "group:friends", want: Entry{Group: "friends"}},
		{in: "group:a.b-c_d", want: Entry{Group: "a.b-c_d"}},
		{in: hexKey(0xab), want: Entry{Key: key(0xab)}},
		{in: strings.ToUpper(hexKey(0xab)), want: Entry{Key: key(0xab)}},
		{in: "", wantErr: "got 0 characters"},
		{in: "group:", wantErr: "must be 1-64"},
		{in: "group:-x", wantErr: "not allowed"},
		{in: "group:a b", wantErr: "not allowed"},
		{in: "**", wantErr: "not a public key"},
		{in: hexKey(1)[:63], wantErr: "got 63 characters"},
		{in: "zz" + hexKey(1)[2:], wantErr: "invalid byte"},
		{in: "4ab::1", wantErr: "not a public key"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseEntry(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrPolicy) {
					t.Fatalf("ParseEntry(%q) = %v, %v; want error mentioning %q", tt.in, got, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.in) {
					t.Errorf("error %q does not name the entry %q", err, tt.in)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseEntry(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestCompileErrorsNameTheEntry(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{
			name: "unknown group",
			cfg:  Config{Services: map[string]Rule{"imap": {Allow: []string{hexKey(1), "group:freinds"}}}},
			want: `policy.imap.allow[1] "group:freinds": no group "freinds"`,
		},
		{
			name: "bad key in deny",
			cfg:  Config{Services: map[string]Rule{"smtp": {Deny: []string{"abc"}}}},
			want: `policy.smtp.deny[0]`,
		},
		{
			name: "bad group member",
			cfg:  Config{Groups: map[string][]string{"friends": {hexKey(1), "nope"}}},
			want: `groups.friends[1] "nope"`,
		},
		{
			name: "bad group name",
			cfg:  Config{Groups: map[string][]string{"a/b": nil}},
			want: `groups: name "a/b"`,
		},
		{
			name: "bad service name",
			cfg:  Config{Services: map[string]Rule{"": {}}},
			want: `policy: service name ""`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrPolicy) {
				t.Fatalf("Compile = %v, want an ErrPolicy naming %q", err, tt.want)
			}
		})
	}
}

func TestAllow(t *testing.T) {
	p, err := Compile(Config{
		Groups: map[string][]string{
			"friends": {hexKey(1), hexKey(2)},
			"banned":  {hexKey(2)},
			"empty":   {},
		},
		Services: map[string]Rule{
			"imap":   {Allow: []string{"group:friends", hexKey(3)}},
			"smtp":   {Allow: []string{"*"}, Deny: []string{"group:banned"}},
			"webdav": {Allow: []string{"group:friends"}, Deny: []string{hexKey(1)}},
			"closed": {Allow: []string{"*"}, Deny: []string{"*"}},
			"none":   {},
			"nobody": {Allow: []string{"group:empty"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		service string
		key     Key
		want    bool
	}{
		{"imap", key(1), true},
		{"imap", key(2), true},
		{"imap", key(3), true},
		{"imap", key(4), false},
		{"imap", Key{}, false},
		{"smtp", key(9), true},
		{"smtp", key(2), false}, // deny wins over "*"
		{"webdav", key(1), false},
		{"webdav", key(2), true},
		{"closed", key(1), false},
		{"none", key(1), false},
		{"nobody", key(1), false},
		{"unknown", key(1), false},
		{"smtp", Key{}, false},
	}
	for _, tt := range tests {
		if got := p.Allow(tt.service, tt.key); got != tt.want {
			t.Errorf("Allow(%q, %x..) = %v, want %v", tt.service, tt.key[:2], got, tt.want)
		}
	}
	if !p.Open("smtp") || p.Open("closed") || p.Open("imap") {
		t.Error("Open: want only smtp open")
	}
	var nilPolicy *Policy
	if nilPolicy.Allow("imap", key(1)) {
		t.Error("nil policy allowed a key")
	}
	if got := strings.Join(p.Services(), ","); got != "closed,imap,nobody,none,smtp,webdav" {
		t.Errorf("Services() = %s", got)
	}
}

func TestAllowDoesNotAllocate(t *testing.T) {
	p, err := Compile(Config{Services: map[string]Rule{"imap": {Allow: []string{hexKey(1)}}}})
	if err != nil {
		t.Fatal(err)
	}
	k := key(1)
	if n := testing.AllocsPerRun(100, func() { _ = p.Allow("imap", k) }); n != 0 {
		t.Errorf("Allow allocates %v times", n)
	}
}

func BenchmarkAllow(b *testing.B) {
	cfg := Config{Groups: map[string][]string{}, Services: map[string]Rule{}}
	var members []string
	for i := range 200 {
		members = append(members, hexKey(byte(i)))
	}
	cfg.Groups["many"] = members
	cfg.Services["imap"] = Rule{Allow: []string{"group:many"}, Deny: []string{hexKey(7)}}
	p, err := Compile(cfg)
	if err != nil {
		b.Fatal(err)
	}
	k := key(150)
	b.ReportAllocs()
	for b.Loop() {
		if !p.Allow("imap", k) {
			b.Fatal("refused")
		}
	}
}
