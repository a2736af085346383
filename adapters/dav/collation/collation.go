// Package collation implements the text-match comparisons of CalDAV
// (RFC 4791 section 9.7.5) and CardDAV (RFC 6352 section 10.5.4): the
// collations i;octet, i;ascii-casemap and i;unicode-casemap (RFC 4790,
// RFC 5051) with the match types equals, contains, starts-with and
// ends-with.
package collation

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Collation names.
const (
	Octet          = "i;octet"
	ASCIICasemap   = "i;ascii-casemap"
	UnicodeCasemap = "i;unicode-casemap"
)

// Supported lists the collations Match accepts.
var Supported = []string{Octet, ASCIICasemap, UnicodeCasemap}

// MatchType is how the pattern must relate to the value.
type MatchType uint8

// Match types.
const (
	Contains MatchType = iota
	Equals
	StartsWith
	EndsWith
)

// ParseMatchType parses a CardDAV match-type attribute; "" is contains.
func ParseMatchType(s string) (MatchType, error) {
	switch s {
	case "", "contains":
		return Contains, nil
	case "equals":
		return Equals, nil
	case "starts-with":
		return StartsWith, nil
	case "ends-with":
		return EndsWith, nil
	}
	return 0, fmt.Errorf("collation: unknown match-type %q", s)
}

// ErrUnsupported is returned for a collation this package does not know.
var ErrUnsupported = errors.New("collation: unsupported collation")

// IsSupported reports whether name is a supported collation.
func IsSupported(name string) bool {
	for _, s := range Supported {
		if s == name {
			return true
		}
	}
	return false
}

// Match reports whether value matches pattern under the collation and
// match type.
func Match(coll string, mt MatchType, value, pattern string) (bool, error) {
	switch coll {
	case Octet:
	case ASCIICasemap:
		value, pattern = asciiFold(value), asciiFold(pattern)
	case UnicodeCasemap:
		value, pattern = unicodeFold(value), unicodeFold(pattern)
	default:
		return false, fmt.Errorf("%w: %q", ErrUnsupported, coll)
	}
	switch mt {
	case Equals:
		return value == pattern, nil
	case StartsWith:
		return strings.HasPrefix(value, pattern), nil
	case EndsWith:
		return strings.HasSuffix(value, pattern), nil
	default:
		return strings.Contains(value, pattern), nil
	}
}

func asciiFold(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// unicodeFold approximates RFC 5051: full case folding, then
// compatibility decomposition (NFKD), so "MÜLLER", "müller" and
// "mu\u0308ller" compare equal.
func unicodeFold(s string) string {
	return norm.NFKD.String(cases.Fold().String(s))
}
