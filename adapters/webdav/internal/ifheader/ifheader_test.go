package ifheader

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/webdav"
)

var parseCases = []struct {
	name string
	in   string
	want Header
}{
	{
		name: "single token",
		in:   "(<opaquelocktoken:a-b-c>)",
		want: Header{Lists: []List{{Conditions: []webdav.Condition{{Token: "opaquelocktoken:a-b-c"}}}}},
	},
	{
		name: "token and etag",
		in:   `(<urn:uuid:1> ["abc"])`,
		want: Header{Lists: []List{{Conditions: []webdav.Condition{{Token: "urn:uuid:1"}, {ETag: `"abc"`}}}}},
	},
	{
		name: "two lists with not",
		in:   "(<opaquelocktoken:x>) (Not <DAV:no-lock>)",
		want: Header{Lists: []List{
			{Conditions: []webdav.Condition{{Token: "opaquelocktoken:x"}}},
			{Conditions: []webdav.Condition{{Not: true, Token: "DAV:no-lock"}}},
		}},
	},
	{
		name: "complex litmus",
		in:   `(<opaquelocktoken:x> ["e1"]) (Not <DAV:no-lock> ["e1"])`,
		want: Header{Lists: []List{
			{Conditions: []webdav.Condition{{Token: "opaquelocktoken:x"}, {ETag: `"e1"`}}},
			{Conditions: []webdav.Condition{{Not: true, Token: "DAV:no-lock"}, {ETag: `"e1"`}}},
		}},
	},
	{
		name: "tagged lists",
		in:   `<http://h/a> (<t1>) (["e"]) <http://h/b/> (Not <t2>)`,
		want: Header{Lists: []List{
			{Tag: "http://h/a", Conditions: []webdav.Condition{{Token: "t1"}}},
			{Tag: "http://h/a", Conditions: []webdav.Condition{{ETag: `"e"`}}},
			{Tag: "http://h/b/", Conditions: []webdav.Condition{{Not: true, Token: "t2"}}},
		}},
	},
	{
		name: "weak etag and lower-case not",
		in:   ` ( not [W/"x y"] ) `,
		want: Header{Lists: []List{{Conditions: []webdav.Condition{{Not: true, ETag: `W/"x y"`}}}}},
	},
	{
		name: "etag containing bracket",
		in:   `(["a]b"])`,
		want: Header{Lists: []List{{Conditions: []webdav.Condition{{ETag: `"a]b"`}}}}},
	},
	{
		name: "unquoted etag",
		in:   `([abc])`,
		want: Header{Lists: []List{{Conditions: []webdav.Condition{{ETag: `"abc"`}}}}},
	},
	{
		name: "Not without space",
		in:   `(Not<t>)`,
		want: Header{Lists: []List{{Conditions: []webdav.Condition{{Not: true, Token: "t"}}}}},
	},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

var malformed = []string{
	"",
	"   ",
	"()",
	"(",
	"(<a>",
	"<http://h/a>",
	"<http://h/a> <http://h/b> (<t>)",
	"(<t>) <http://h/a> (<t>)",
	"(<>)",
	"(<a b>)",
	"([)",
	`(["abc)`,
	`(["abc" x])`,
	"(Not)",
	"(Not )",
	"(foo)",
	"x(<t>)",
	"(<t>) x",
	"([])",
}

func TestParseMalformed(t *testing.T) {
	for _, in := range malformed {
		if h, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %+v, want error", in, h)
		}
	}
}

func TestParseLimits(t *testing.T) {
	many := strings.Repeat("(<t>)", maxLists+1)
	if _, err := Parse(many); err == nil {
		t.Errorf("Parse(%d lists) succeeded, want error", maxLists+1)
	}
	long := "(" + strings.Repeat("<t>", maxConditions+1) + ")"
	if _, err := Parse(long); err == nil {
		t.Errorf("Parse(%d conditions) succeeded, want error", maxConditions+1)
	}
}

func TestTokens(t *testing.T) {
	h, err := Parse(`<http://h/a> (<t1> ["e"]) (Not <t2>) <http://h/b> (<t3>) (<t1>)`)
	if err != nil {
		t.Fatal(err)
	}
	got := h.Tokens()
	want := []string{"t1", "t3"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Tokens() mismatch (-want +got):\n%s", diff)
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	for _, in := range malformed {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, err := Parse(in)
		if err != nil {
			return
		}
		if len(h.Lists) == 0 || len(h.Lists) > maxLists {
			t.Fatalf("Parse(%q) gave %d lists", in, len(h.Lists))
		}
		for _, l := range h.Lists {
			if len(l.Conditions) == 0 || len(l.Conditions) > maxConditions {
				t.Fatalf("Parse(%q) gave a list with %d conditions", in, len(l.Conditions))
			}
			for _, c := range l.Conditions {
				if (c.Token == "") == (c.ETag == "") {
					t.Fatalf("Parse(%q) gave condition %+v with not exactly one of token and etag", in, c)
				}
			}
		}
		_ = h.Tokens()
	})
}
