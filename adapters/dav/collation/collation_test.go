package collation

import (
	"errors"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		coll           string
		mt             MatchType
		value, pattern string
		want           bool
	}{
		{Octet, Contains, "Müller", "Mül", true},
		{Octet, Contains, "Müller", "mül", false},
		{ASCIICasemap, Contains, "Hello World", "WORLD", true},
		{ASCIICasemap, Contains, "Müller", "MÜL", false}, // ASCII only
		{UnicodeCasemap, Contains, "Müller", "MÜL", true},
		{UnicodeCasemap, Equals, "MÜLLER", "mu\u0308ller", true},
		{UnicodeCasemap, Equals, "Straße", "STRASSE", true},
		{UnicodeCasemap, StartsWith, "Ørsted", "ør", true},
		{UnicodeCasemap, EndsWith, "Jürgen Groß", "GROSS", true},
		{UnicodeCasemap, Equals, "Müller", "Muller", false},
		{ASCIICasemap, StartsWith, "abc", "ABCD", false},
		{Octet, EndsWith, "", "", true},
	}
	for _, tt := range tests {
		got, err := Match(tt.coll, tt.mt, tt.value, tt.pattern)
		if err != nil || got != tt.want {
			t.Errorf("Match(%s, %d, %q, %q) = %v, %v; want %v", tt.coll, tt.mt, tt.value, tt.pattern, got, err, tt.want)
		}
	}
	if _, err := Match("i;klingon", Contains, "a", "a"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("unknown collation: err = %v", err)
	}
}

func TestParseMatchType(t *testing.T) {
	for s, want := range map[string]MatchType{"": Contains, "contains": Contains, "equals": Equals, "starts-with": StartsWith, "ends-with": EndsWith} {
		if got, err := ParseMatchType(s); err != nil || got != want {
			t.Errorf("ParseMatchType(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseMatchType("regex"); err == nil {
		t.Error("ParseMatchType(regex) accepted")
	}
}
