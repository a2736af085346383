package acl

import (
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// FuzzParseEntry: ParseEntry never panics, and an accepted entry prints
// back to a form that parses to the same entry.
func FuzzParseEntry(f *testing.F) {
	for _, s := range []string{"*", " * ", "group:friends", "group:", "group:-x", hexKey(0xab), "4ab::1", "", "**"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEntry(s)
		if err != nil {
			return
		}
		again, err := ParseEntry(e.String())
		if err != nil || again != e {
			t.Fatalf("ParseEntry(%q) = %+v; its String %q parses to %+v, %v", s, e, e.String(), again, err)
		}
	})
}

// policyFile is the shape of the policy sections of the node's config.
type policyFile struct {
	Groups map[string][]string `toml:"groups"`
	Policy map[string]Rule     `toml:"policy"`
}

// FuzzCompile decodes arbitrary TOML into the policy sections and
// compiles it: no panic, and a compiled policy honours deny-wins and
// deny-by-default for every key the input mentions.
func FuzzCompile(f *testing.F) {
	f.Add(`[groups]
friends = ["` + hexKey(1) + `", "` + hexKey(2) + `"]
[policy.imap]
allow = ["group:friends", "` + hexKey(3) + `"]
deny = ["` + hexKey(2) + `"]
[policy.smtp]
allow = ["*"]
`)
	f.Add(`[policy.x]
allow = ["group:nope"]`)
	f.Add(`[policy.x]
deny = ["*"]
allow = ["*"]`)
	f.Fuzz(func(t *testing.T, text string) {
		var pf policyFile
		if toml.Unmarshal([]byte(text), &pf) != nil {
			return
		}
		p, err := Compile(Config{Groups: pf.Groups, Services: pf.Policy})
		if err != nil {
			return
		}
		for svc, r := range pf.Policy {
			for _, s := range r.Deny {
				e, _ := ParseEntry(s)
				if e.Key != (Key{}) && p.Allow(svc, e.Key) {
					t.Fatalf("service %s allows explicitly denied %s", svc, s)
				}
			}
			if p.Allow(svc, Key{}) {
				t.Fatalf("service %s allows the zero key", svc)
			}
			open := false
			for _, s := range r.Allow {
				e, _ := ParseEntry(s)
				open = open || e.Any
			}
			var stranger Key
			stranger[0] = 0xfe
			stranger[31] = 0x01
			if !open && p.Allow(svc, stranger) && !mentions(pf, stranger) {
				t.Fatalf("service %s allows a key nobody listed", svc)
			}
		}
	})
}

// mentions reports whether k appears anywhere in the input.
func mentions(pf policyFile, k Key) bool {
	for _, g := range pf.Groups {
		for _, s := range g {
			if kk, err := ParseKey(s); err == nil && kk == k {
				return true
			}
		}
	}
	for _, r := range pf.Policy {
		for _, s := range r.Allow {
			if e, err := ParseEntry(s); err == nil && e.Key == k {
				return true
			}
		}
	}
	return false
}
