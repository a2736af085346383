// Package acl is the gateway's access policy: per service, which overlay
// peers (by public key) may connect.
//
// A policy is compiled once from a Config (named groups of keys and one
// Rule per service) into precomputed sets, so Allow is two map lookups and
// never allocates. The semantics:
//
//   - deny by default: a service without a rule, or a key on no allow
//     list, is refused;
//   - an allow or deny entry is a key (64 hex digits), "group:<name>" (every
//     key of the group) or "*" (any key);
//   - an explicit deny wins over any allow, "*" included.
//
// Loopback listeners do not consult the policy: they serve the machine's
// own user, who authenticates at protocol level.
package acl

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Key is an overlay node's X25519 public key. It converts to and from
// sdk.PublicKey and identity.PublicKey.
type Key [32]byte

// Any is the entry that matches every key.
const Any = "*"

// GroupPrefix introduces a reference to a named group: "group:friends".
const GroupPrefix = "group:"

// ErrPolicy is wrapped by every error of Parse and Compile.
var ErrPolicy = errors.New("acl: bad policy")

// Rule is the policy of one service.
type Rule struct {
	// Allow lists the entries that may connect.
	Allow []string `toml:"allow" json:"allow,omitempty"`
	// Deny lists the entries that may not, whatever Allow says.
	Deny []string `toml:"deny" json:"deny,omitempty"`
}

// Config is a whole policy: groups and per-service rules.
type Config struct {
	// Groups maps a group name to its member keys (64 hex digits each).
	Groups map[string][]string
	// Services maps a service name to its rule.
	Services map[string]Rule
}

// Entry is one parsed allow or deny entry.
type Entry struct {
	Any   bool   // "*"
	Group string // the group name of "group:<name>"
	Key   Key    // a key, when neither Any nor Group is set
}

// String returns the entry in its config form.
func (e Entry) String() string {
	switch {
	case e.Any:
		return Any
	case e.Group != "":
		return GroupPrefix + e.Group
	default:
		return e.Key.String()
	}
}

// ParseEntry parses one allow or deny entry: "*", "group:<name>" or a key
// of 64 hex digits (either case; surrounding spaces are ignored).
func ParseEntry(s string) (Entry, error) {
	t := strings.TrimSpace(s)
	switch {
	case t == Any:
		return Entry{Any: true}, nil
	case strings.HasPrefix(t, GroupPrefix):
		name := strings.TrimPrefix(t, GroupPrefix)
		if err := ValidateName(name); err != nil {
			return Entry{}, fmt.Errorf("%w: entry %q: group %w", ErrPolicy, s, err)
		}
		return Entry{Group: name}, nil
	}
	k, err := ParseKey(t)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: entry %q: %w", ErrPolicy, s, err)
	}
	return Entry{Key: k}, nil
}

// ParseKey parses a public key of exactly 64 hex digits.
func ParseKey(s string) (Key, error) {
	var k Key
	if len(s) != 2*len(k) {
		return k, fmt.Errorf("not a public key: want 64 hex digits, \"*\" or \"group:<name>\", got %d characters", len(s))
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return k, fmt.Errorf("not a public key: %w", err)
	}
	return k, nil
}

// ValidateName checks a group or service name: 1-64 characters of ASCII
// letters, digits, '-', '_' and '.', starting with a letter or digit.
func ValidateName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("name %q must be 1-64 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '-' && c != '_' && c != '.') {
			return fmt.Errorf("name %q: character %q not allowed at %d (letters, digits, '-', '_', '.'; first a letter or digit)", name, c, i)
		}
	}
	return nil
}

// sortedKeys returns m's keys in order, so errors are deterministic.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// String returns the key as 64 lowercase hex digits.
func (k Key) String() string { return hex.EncodeToString(k[:]) }
