package dav

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseDepth(t *testing.T) {
	cases := []struct {
		in     string
		want   int
		noRoot bool
	}{
		{"", depthInfinity, false},
		{"0", depthZero, false},
		{"1", depthOne, false},
		{"Infinity", depthInfinity, false},
		{" 1 ", depthOne, false},
		{"1,noroot", depthOne, true},
		{"infinity,noroot", depthInfinity, true},
		{"2", depthInvalid, false},
		{"-1", depthInvalid, false},
		{"noroot", depthInvalid, false},
	}
	for _, tc := range cases {
		got, noRoot := parseDepth(tc.in, depthInfinity)
		if got != tc.want || noRoot != tc.noRoot {
			t.Errorf("parseDepth(%q) = %d, %v; want %d, %v", tc.in, got, noRoot, tc.want, tc.noRoot)
		}
	}
}

var timeoutCases = []struct {
	in   string
	want time.Duration
}{
	{"", time.Hour},
	{"Second-60", time.Minute},
	{"Infinite", 24 * time.Hour},
	{"Infinite, Second-4100000000", 24 * time.Hour},
	{"Second-4100000000", 24 * time.Hour},
	{"bogus, Second-30", 30 * time.Second},
	{"Second-0", time.Hour},
	{"Second--5", time.Hour},
	{"second-10", 10 * time.Second},
	{"Second-99999999999999999999999", time.Hour},
}

func TestParseTimeout(t *testing.T) {
	for _, tc := range timeoutCases {
		if got := parseTimeout(tc.in, time.Hour, 24*time.Hour); got != tc.want {
			t.Errorf("parseTimeout(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

var destinationCases = []struct {
	in   string
	want string
	ok   bool
}{
	{"http://host/a/b", "/a/b", true},
	{"https://host:8443/a%20b/", "/a b", true},
	{"/abs/path", "/abs/path", true},
	{"http://host/a/../../b", "/b", true},
	{"http://host/%2e%2e/x", "/x", true},
	{"relative/path", "", false},
	{"", "", false},
	{"http://host/a#frag", "", false},
	{"http://host/a?q=1", "", false},
	{"http://host", "", false},
	{"http://[::1", "", false},
}

func TestDestinationPath(t *testing.T) {
	for _, tc := range destinationCases {
		got, ok := destinationPath(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("destinationPath(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestOverwrite(t *testing.T) {
	for in, want := range map[string][2]bool{"": {true, true}, "T": {true, true}, "F": {false, true}, "f": {false, true}, "yes": {false, false}} {
		ow, ok := parseOverwrite(in)
		if [2]bool{ow, ok} != want {
			t.Errorf("parseOverwrite(%q) = %v, %v; want %v", in, ow, ok, want)
		}
	}
}

var etagListCases = []struct {
	in   string
	want []string
}{
	{`"a"`, []string{`"a"`}},
	{`"a", W/"b" ,"c,d"`, []string{`"a"`, `W/"b"`, `"c,d"`}},
	{`,, "a",`, []string{`"a"`}},
	{`unquoted, "x"`, []string{`unquoted`, `"x"`}},
	{``, nil},
}

func TestSplitETags(t *testing.T) {
	for _, tc := range etagListCases {
		if diff := cmp.Diff(tc.want, splitETags(tc.in)); diff != "" {
			t.Errorf("splitETags(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestMatchList(t *testing.T) {
	cases := []struct {
		list, etag string
		strong     bool
		want       bool
	}{
		{"*", "", true, true},
		{`"a"`, `"a"`, true, true},
		{`"b", "a"`, `"a"`, true, true},
		{`W/"a"`, `"a"`, true, false},
		{`W/"a"`, `"a"`, false, true},
		{`"a"`, ``, false, false},
		{`"a"`, `"b"`, false, false},
	}
	for _, tc := range cases {
		if got := matchList(tc.list, tc.etag, tc.strong); got != tc.want {
			t.Errorf("matchList(%q, %q, strong %v) = %v, want %v", tc.list, tc.etag, tc.strong, got, tc.want)
		}
	}
}

func TestHTTPConditionsWithoutResource(t *testing.T) {
	cases := []struct {
		hdr, val string
		want     bool
	}{
		{"If-Match", "*", false},
		{"If-Match", `"a"`, false},
		{"If-None-Match", "*", true},
		{"If-Unmodified-Since", "Mon, 02 Jan 2006 15:04:05 GMT", true},
	}
	for _, tc := range cases {
		r, _ := http.NewRequest("PUT", "/x", nil)
		r.Header.Set(tc.hdr, tc.val)
		if got := httpConditions(r, nil); got != tc.want {
			t.Errorf("%s: %s on a missing resource = %v, want %v", tc.hdr, tc.val, got, tc.want)
		}
	}
}

func TestCleanPathAndResolve(t *testing.T) {
	for in, want := range map[string]string{"/": "/", "/a/../b": "/b", "/../..": "/", "//x//y/": "/x/y"} {
		if got, ok := cleanPath(in); !ok || got != want {
			t.Errorf("cleanPath(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "a", "/a\x00b"} {
		if _, ok := cleanPath(bad); ok {
			t.Errorf("cleanPath(%q) accepted", bad)
		}
	}
	v := &View{SharedDir: "shared", Shares: []Share{{Name: "team", ReadOnly: true, Quota: 5}}}
	for in, want := range map[string]loc{
		"/":                    {path: "/"},
		"/sharedx":             {path: "/sharedx"},
		"/shared":              {path: "/shared", readOnly: true},
		"/shared/team":         {path: "/", mount: "/shared/team", readOnly: true, quota: 5},
		"/shared/team/a/b.txt": {path: "/a/b.txt", mount: "/shared/team", readOnly: true, quota: 5},
	} {
		got, err := v.resolve(in)
		if err != nil || got != want {
			t.Errorf("resolve(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if _, err := v.resolve("/shared/other/x"); err != errNoShare {
		t.Errorf("resolve of a foreign share = %v, want errNoShare", err)
	}
	l, _ := v.resolve("/shared/team/a b")
	if got := l.href(true); got != "/shared/team/a%20b/" {
		t.Errorf("href = %q", got)
	}
}

func FuzzHeaders(f *testing.F) {
	for _, tc := range timeoutCases {
		f.Add(tc.in)
	}
	for _, tc := range destinationCases {
		f.Add(tc.in)
	}
	for _, tc := range etagListCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d := parseTimeout(s, time.Hour, 24*time.Hour); d <= 0 || d > 24*time.Hour {
			t.Fatalf("parseTimeout(%q) = %v outside (0, max]", s, d)
		}
		if p, ok := destinationPath(s); ok {
			if c, ok2 := cleanPath(p); !ok2 || c != p {
				t.Fatalf("destinationPath(%q) = %q is not clean", s, p)
			}
		}
		parseDepth(s, depthInfinity)
		parseOverwrite(s)
		for _, tag := range splitETags(s) {
			if tag == "" {
				t.Fatalf("splitETags(%q) gave an empty tag", s)
			}
		}
		matchList(s, `"x"`, true)
	})
}
