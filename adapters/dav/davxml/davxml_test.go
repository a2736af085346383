package davxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var seedBodies = []string{
	`<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/><d:resourcetype/></d:prop></d:propfind>`,
	`<propfind xmlns="DAV:"><allprop/><include><sync-token/></include></propfind>`,
	`<propfind xmlns="DAV:"><propname/></propfind>`,
	`<D:propertyupdate xmlns:D="DAV:" xmlns:A="http://apple.com/ns/ical/"><D:set><D:prop><D:displayname>Work</D:displayname><A:calendar-color>#FF0000FF</A:calendar-color></D:prop></D:set><D:remove><D:prop><A:calendar-order/></D:prop></D:remove></D:propertyupdate>`,
	`<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>Cal</D:displayname><C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>`,
	`<D:mkcol xmlns:D="DAV:"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook xmlns:CR="urn:ietf:params:xml:ns:carddav"/></D:resourcetype></D:prop></D:set></D:mkcol>`,
	`<D:sync-collection xmlns:D="DAV:"><D:sync-token>http://mycelium.invalid/ns/sync/abc/3</D:sync-token><D:sync-level>1</D:sync-level><D:limit><D:nresults>10</D:nresults></D:limit><D:prop><D:getetag/></D:prop></D:sync-collection>`,
	`<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>infinite</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`,
	`<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><D:href>/calendars/a/b/1.ics</D:href><D:href>/calendars/a/b/%C3%BC.ics</D:href></C:calendar-multiget>`,
	`<x:a xmlns:x="urn:x" x:attr="1" plain="&quot;q&quot;">text &amp; more<x:b>inner</x:b></x:a>`,
}

func mustParse(t *testing.T, s string) *Node {
	t.Helper()
	n, err := Parse(strings.NewReader(s), DefaultLimits)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return n
}

func TestParsePropFind(t *testing.T) {
	tests := []struct {
		name string
		body string
		want PropFind
	}{
		{"empty body is allprop", "", PropFind{AllProp: true}},
		{"prop", seedBodies[0], PropFind{Props: []xml.Name{N(NSDAV, "current-user-principal"), N(NSDAV, "resourcetype")}}},
		{"allprop include", seedBodies[1], PropFind{AllProp: true, Props: []xml.Name{N(NSDAV, "sync-token")}}},
		{"propname", seedBodies[2], PropFind{PropName: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, err := Parse(strings.NewReader(tt.body), DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParsePropFind(root)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePropFind mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, body string
	}{
		{"two roots", `<a/><b/>`},
		{"unclosed", `<a><b></a>`},
		{"text outside", `<a/>junk`},
		{"truncated", `<a><b>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(strings.NewReader(tt.body), DefaultLimits); err == nil {
				t.Errorf("Parse(%q) = nil error, want error", tt.body)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	deep := strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40)
	if _, err := Parse(strings.NewReader(deep), DefaultLimits); !errors.Is(err, ErrTooLarge) {
		t.Errorf("deep document: err = %v, want ErrTooLarge", err)
	}
	big := "<a>" + strings.Repeat("x", 100) + "</a>"
	if _, err := Parse(strings.NewReader(big), Limits{MaxBytes: 50, MaxDepth: 4, MaxElements: 4}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("big document: err = %v, want ErrTooLarge", err)
	}
	many := "<a>" + strings.Repeat("<b/>", 10) + "</a>"
	if _, err := Parse(strings.NewReader(many), Limits{MaxBytes: 1000, MaxDepth: 4, MaxElements: 5}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("many elements: err = %v, want ErrTooLarge", err)
	}
}

func TestPropertyUpdate(t *testing.T) {
	ops, err := ParsePropertyUpdate(mustParse(t, seedBodies[3]))
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 3 || ops[0].Remove || ops[2].Remove != true {
		t.Fatalf("ops = %+v", ops)
	}
	if got := ops[1].Prop.TrimmedText(); got != "#FF0000FF" {
		t.Errorf("color = %q", got)
	}
}

func TestMkcol(t *testing.T) {
	props, err := ParseMkcol(mustParse(t, seedBodies[4]), N(NSCalDAV, "mkcalendar"))
	if err != nil || len(props) != 2 {
		t.Fatalf("ParseMkcol = %v, %v", props, err)
	}
	if _, err := ParseMkcol(mustParse(t, seedBodies[4]), N(NSDAV, "mkcol")); err == nil {
		t.Error("ParseMkcol with the wrong root: nil error")
	}
}

func TestSyncCollection(t *testing.T) {
	sc, err := ParseSyncCollection(mustParse(t, seedBodies[6]))
	if err != nil {
		t.Fatal(err)
	}
	want := SyncCollection{Token: "http://mycelium.invalid/ns/sync/abc/3", Limit: 10,
		PropFind: PropFind{Props: []xml.Name{N(NSDAV, "getetag")}}}
	if diff := cmp.Diff(want, sc); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	sc, err = ParseSyncCollection(mustParse(t, seedBodies[7]))
	if err != nil || sc.Token != "" || !sc.Infinite || sc.Limit != -1 {
		t.Errorf("initial sync = %+v, %v", sc, err)
	}
	bad := `<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>2</D:sync-level></D:sync-collection>`
	if _, err := ParseSyncCollection(mustParse(t, bad)); err == nil {
		t.Error("sync-level 2 accepted")
	}
}

func TestMultiget(t *testing.T) {
	m, err := ParseMultiget(mustParse(t, seedBodies[8]))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/calendars/a/b/1.ics", "/calendars/a/b/%C3%BC.ics"}, m.Hrefs); diff != "" {
		t.Error(diff)
	}
	if len(m.PropFind.Props) != 2 {
		t.Errorf("props = %v", m.PropFind.Props)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, s := range seedBodies {
		n := mustParse(t, s)
		again := mustParse(t, string(n.Marshal()))
		if diff := cmp.Diff(n, again); diff != "" {
			t.Errorf("round trip of %q (-orig +again):\n%s", s, diff)
		}
	}
}

func TestEscapeText(t *testing.T) {
	var b bytes.Buffer
	EscapeText(&b, "a&b<c>\r\nd\x00e\xff")
	if got, want := b.String(), "a&amp;b&lt;c&gt;&#13;\nd\uFFFDe\uFFFD"; got != want {
		t.Errorf("EscapeText = %q, want %q", got, want)
	}
}

func TestWriter(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	cond := N(NSCalDAV, "valid-calendar-data")
	w.Response(Response{Href: "/a/", PropStats: []PropStat{
		{Status: 200, Props: []Prop{{Name: N(NSDAV, "displayname"), XML: TextElement(N(NSDAV, "displayname"), "Müller & Co")}}},
		{Status: 404, Props: []Prop{{Name: N("urn:x", "y")}}},
	}})
	w.Response(Response{Href: "/a/b.ics", Status: 404, Error: &cond})
	w.SyncToken("tok")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var ms struct {
		Responses []struct {
			Href     string `xml:"DAV: href"`
			Status   string `xml:"DAV: status"`
			PropStat []struct {
				Status string `xml:"DAV: status"`
				Prop   struct {
					Inner string `xml:",innerxml"`
				} `xml:"DAV: prop"`
			} `xml:"DAV: propstat"`
		} `xml:"DAV: response"`
		Token string `xml:"DAV: sync-token"`
	}
	if err := xml.Unmarshal(out.Bytes(), &ms); err != nil {
		t.Fatalf("output is not XML: %v\n%s", err, out.String())
	}
	if len(ms.Responses) != 2 || ms.Token != "tok" || ms.Responses[1].Status != "HTTP/1.1 404 Not Found" {
		t.Fatalf("unexpected multistatus: %+v\n%s", ms, out.String())
	}
	if !strings.Contains(ms.Responses[0].PropStat[0].Prop.Inner, "Müller &amp; Co") {
		t.Errorf("displayname not escaped: %s", out.String())
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range seedBodies {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Parse(bytes.NewReader(data), Limits{MaxBytes: 1 << 16, MaxDepth: 16, MaxElements: 1000})
		if err != nil || n == nil {
			return
		}
		again, err := Parse(bytes.NewReader(n.Marshal()), Limits{MaxBytes: 1 << 20, MaxDepth: 16, MaxElements: 1000})
		if err != nil {
			t.Fatalf("re-parse of marshalled %q: %v\n%s", data, err, n.Marshal())
		}
		if again.Name != n.Name || len(again.Children) != len(n.Children) {
			t.Fatalf("round trip changed the root: %v vs %v", n.Name, again.Name)
		}
		_, _ = ParsePropFind(n)
		_, _ = ParsePropertyUpdate(n)
		_, _ = ParseMkcol(n, n.Name)
		_, _ = ParseMultiget(n)
		_, _ = ParseSyncCollection(n)
	})
}
