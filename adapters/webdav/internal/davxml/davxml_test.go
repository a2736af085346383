package davxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/webdav"
)

const xmlDecl = `<?xml version="1.0" encoding="utf-8" ?>`

var propfindCases = []struct {
	name string
	body string
	want Propfind
}{
	{"empty body", "", Propfind{Kind: AllProp}},
	{"whitespace body", " \r\n ", Propfind{Kind: AllProp}},
	{"allprop", `<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`, Propfind{Kind: AllProp}},
	{"propname", `<propfind xmlns="DAV:"><propname/></propfind>`, Propfind{Kind: PropName}},
	{
		"prop",
		xmlDecl + `<propfind xmlns="DAV:"><prop><getetag/><x:foo xmlns:x="urn:x"/><bar xmlns=""/></prop></propfind>`,
		Propfind{Kind: Prop, Names: []xml.Name{{Space: "DAV:", Local: "getetag"}, {Space: "urn:x", Local: "foo"}, {Local: "bar"}}},
	},
	{
		"allprop with include",
		`<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:quota-used-bytes/></D:include></D:propfind>`,
		Propfind{Kind: AllProp, Include: []xml.Name{{Space: "DAV:", Local: "quota-used-bytes"}}},
	},
	{
		"extended propfind",
		xmlDecl + `<propfind xmlns="DAV:"><foobar/><allprop/></propfind>`,
		Propfind{Kind: AllProp},
	},
}

func TestParsePropfind(t *testing.T) {
	for _, tc := range propfindCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePropfind(strings.NewReader(tc.body))
			if err != nil {
				t.Fatalf("ParsePropfind error: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParsePropfind mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

var badPropfinds = []string{
	"<foo>",
	`<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>`,
	`<D:propfind xmlns:D="DAV:"></D:propfind>`,
	`<D:propfind xmlns:D="DAV:"><D:allprop/><D:propname/></D:propfind>`,
	`<propfind xmlns="urn:not-dav"><allprop/></propfind>`,
	`<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind><x/>`,
	`junk<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`,
	`<D:propfind xmlns:D="DAV:"><D:allprop></D:propfind>`,
	`<?xml version="1.0" encoding="latin1"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`,
}

func TestParsePropfindBad(t *testing.T) {
	for _, body := range badPropfinds {
		if got, err := ParsePropfind(strings.NewReader(body)); err == nil {
			t.Errorf("ParsePropfind(%q) = %+v, want error", body, got)
		}
	}
}

var proppatchCases = []struct {
	name string
	body string
	want []webdav.Proppatch
}{
	{
		"set and remove in order",
		xmlDecl + `<propertyupdate xmlns='DAV:'><remove><prop><removeset xmlns='urn:l'/></prop></remove>` +
			`<set><prop><removeset xmlns='urn:l'>x</removeset></prop></set></propertyupdate>`,
		[]webdav.Proppatch{
			{Remove: true, Props: []webdav.Property{{XMLName: xml.Name{Space: "urn:l", Local: "removeset"}}}},
			{Props: []webdav.Property{{XMLName: xml.Name{Space: "urn:l", Local: "removeset"}, InnerXML: []byte("x")}}},
		},
	},
	{
		"null namespace",
		`<propertyupdate xmlns="DAV:"><set><prop><nonamespace xmlns="">randomvalue</nonamespace></prop></set></propertyupdate>`,
		[]webdav.Proppatch{{Props: []webdav.Property{{XMLName: xml.Name{Local: "nonamespace"}, InnerXML: []byte("randomvalue")}}}},
	},
	{
		"value defining a namespace",
		`<propertyupdate xmlns='DAV:'><set><prop><t:valnspace xmlns:t='urn:l'><foo xmlns='bar'/></t:valnspace></prop></set></propertyupdate>`,
		[]webdav.Proppatch{{Props: []webdav.Property{{XMLName: xml.Name{Space: "urn:l", Local: "valnspace"}, InnerXML: []byte(`<foo xmlns="bar"></foo>`)}}}},
	},
	{
		"value using ancestor prefix, attributes and escapes",
		`<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop xml:lang="de">` +
			`<Z:author><Z:name Z:role="x" plain='a&amp;"b'>J &amp; K &lt;3</Z:name><plain/><!-- c --></Z:author>` +
			`</D:prop></D:set></D:propertyupdate>`,
		[]webdav.Proppatch{{Props: []webdav.Property{{
			XMLName:  xml.Name{Space: "urn:z", Local: "author"},
			Lang:     "de",
			InnerXML: []byte(`<name xmlns="urn:z" xmlns:a0="urn:z" a0:role="x" plain="a&amp;&quot;b">J &amp; K &lt;3</name><plain></plain><!-- c -->`),
		}}}},
	},
	{
		"high unicode",
		`<propertyupdate xmlns='DAV:'><set><prop><high-unicode xmlns='urn:l'>&#65536;</high-unicode></prop></set></propertyupdate>`,
		[]webdav.Proppatch{{Props: []webdav.Property{{XMLName: xml.Name{Space: "urn:l", Local: "high-unicode"}, InnerXML: []byte("\U00010000")}}}},
	},
	{
		"lang on property wins",
		`<propertyupdate xmlns='DAV:' xml:lang="en"><set><prop><a xmlns='urn:l' xml:lang="fr">oui</a><b xmlns='urn:l'>yes</b></prop></set></propertyupdate>`,
		[]webdav.Proppatch{{Props: []webdav.Property{
			{XMLName: xml.Name{Space: "urn:l", Local: "a"}, Lang: "fr", InnerXML: []byte("oui")},
			{XMLName: xml.Name{Space: "urn:l", Local: "b"}, Lang: "en", InnerXML: []byte("yes")},
		}}},
	},
}

func TestParseProppatch(t *testing.T) {
	for _, tc := range proppatchCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProppatch(strings.NewReader(tc.body))
			if err != nil {
				t.Fatalf("ParseProppatch error: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseProppatch mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

var badProppatches = []string{
	"",
	"<foo>",
	`<propertyupdate xmlns="DAV:"></propertyupdate>`,
	`<propertyupdate xmlns="DAV:"><set><prop></prop></set></propertyupdate>`,
	`<propertyupdate xmlns="DAV:"><set><prop><a xmlns="urn:x"><b xmlns:p=""/></a></prop></set></propertyupdate>`,
	`<propertyupdate xmlns="DAV:"><set><prop><a xmlns="urn:x">` + strings.Repeat("<b>", maxDepth+1) + strings.Repeat("</b>", maxDepth+1) + `</a></prop></set></propertyupdate>`,
}

func TestParseProppatchBad(t *testing.T) {
	for _, body := range badProppatches {
		if got, err := ParseProppatch(strings.NewReader(body)); err == nil {
			t.Errorf("ParseProppatch(%q) = %+v, want error", body, got)
		}
	}
}

var lockinfoCases = []struct {
	name string
	body string
	want LockInfo
	ok   bool
}{
	{"empty is refresh", "", LockInfo{}, false},
	{
		"exclusive with owner",
		xmlDecl + `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>litmus test suite</D:owner></D:lockinfo>`,
		LockInfo{Owner: []byte("litmus test suite")},
		true,
	},
	{
		"shared with href owner",
		`<lockinfo xmlns="DAV:"><lockscope><shared/></lockscope><locktype><write/></locktype><owner><href>mailto:a@b</href></owner></lockinfo>`,
		LockInfo{Shared: true, Owner: []byte(`<href xmlns="DAV:">mailto:a@b</href>`)},
		true,
	},
	{
		"empty owner",
		`<lockinfo xmlns="DAV:"><lockscope><exclusive/></lockscope><locktype><write/></locktype><owner/></lockinfo>`,
		LockInfo{Owner: []byte{}},
		true,
	},
}

func TestParseLockInfo(t *testing.T) {
	for _, tc := range lockinfoCases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := ParseLockInfo(strings.NewReader(tc.body))
			if err != nil {
				t.Fatalf("ParseLockInfo error: %v", err)
			}
			if ok != tc.ok {
				t.Errorf("ParseLockInfo ok = %v, want %v", ok, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseLockInfo mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseLockInfoBad(t *testing.T) {
	bad := []string{
		"<foo/>",
		`<lockinfo xmlns="DAV:"><locktype><write/></locktype></lockinfo>`,
		`<lockinfo xmlns="DAV:"><lockscope><exclusive/><shared/></lockscope><locktype><write/></locktype></lockinfo>`,
		`<lockinfo xmlns="DAV:"><lockscope><exclusive/></lockscope></lockinfo>`,
	}
	for _, body := range bad {
		if got, _, err := ParseLockInfo(strings.NewReader(body)); err == nil {
			t.Errorf("ParseLockInfo(%q) = %+v, want error", body, got)
		}
	}
	_, _, err := ParseLockInfo(strings.NewReader(`<lockinfo xmlns="DAV:"><lockscope><exclusive/></lockscope><locktype><read/></locktype></lockinfo>`))
	if !errors.Is(err, ErrUnsupportedLockType) {
		t.Errorf("ParseLockInfo(read lock) error = %v, want ErrUnsupportedLockType", err)
	}
}

func TestMultistatusIsWellFormed(t *testing.T) {
	var out bytes.Buffer
	m := NewMultistatus(&out)
	pstats := []webdav.Propstat{
		{Status: 200, Props: []webdav.Property{
			{XMLName: xml.Name{Space: "DAV:", Local: "resourcetype"}, InnerXML: []byte("<D:collection/>")},
			{XMLName: xml.Name{Local: "nonamespace"}, InnerXML: []byte("randomvalue")},
			{XMLName: xml.Name{Space: "urn:l", Local: "valnspace"}, Lang: "de", InnerXML: []byte(`<foo xmlns="bar"></foo><baz></baz>`)},
		}},
		{Status: 403, Props: []webdav.Property{{XMLName: xml.Name{Space: "DAV:", Local: "getetag"}}}, XMLError: "<D:cannot-modify-protected-property/>"},
	}
	if err := m.Response(Href("/a b/ä&<>.txt"), pstats); err != nil {
		t.Fatal(err)
	}
	if err := m.Status("/x", 424, ""); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// Decode it back and check the names and namespaces.
	d := xml.NewDecoder(&out)
	var got []xml.Name
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("response is not well-formed: %v\n%s", err, out.String())
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Space != "DAV:" {
			got = append(got, se.Name)
		}
	}
	want := []xml.Name{{Local: "nonamespace"}, {Space: "urn:l", Local: "valnspace"}, {Space: "bar", Local: "foo"}, {Local: "baz"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("non-DAV elements mismatch (-want +got):\n%s", diff)
	}
}

func TestHref(t *testing.T) {
	cases := map[string]string{
		"/":              "/",
		"/a/b.txt":       "/a/b.txt",
		"/a b/#%&+;.txt": "/a%20b/%23%25%26%2B%3B.txt",
		"/ä":             "/%C3%A4",
	}
	for in, want := range cases {
		if got := Href(in); got != want {
			t.Errorf("Href(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLockResponse(t *testing.T) {
	body := LockResponse(ActiveLock{Shared: true, Infinite: true, Owner: []byte(`<href xmlns="DAV:">x</href>`),
		Timeout: 3599500 * time.Millisecond, Token: "opaquelocktoken:1", RootHref: "/a%20b/"})
	s := string(body)
	for _, want := range []string{"<D:shared/>", "<D:depth>infinity</D:depth>", "Second-3600", "opaquelocktoken:1", "/a%20b/", `<href xmlns="DAV:">x</href>`} {
		if !strings.Contains(s, want) {
			t.Errorf("LockResponse lacks %q:\n%s", want, s)
		}
	}
	if err := xml.Unmarshal(body, new(struct{})); err != nil {
		t.Errorf("LockResponse is not well-formed: %v", err)
	}
}

// tokensOf decodes s (wrapped in a root element) into a comparable list
// of tokens: names with namespaces, attributes other than declarations,
// and text.
func tokensOf(s []byte) ([]string, error) {
	d := xml.NewDecoder(io.MultiReader(strings.NewReader("<r>"), bytes.NewReader(s), strings.NewReader("</r>")))
	var out []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			out = append(out, "<{"+t.Name.Space+"}"+t.Name.Local)
			for _, a := range t.Attr {
				if !isNamespaceDecl(a.Name) {
					out = append(out, "@{"+a.Name.Space+"}"+a.Name.Local+"="+a.Value)
				}
			}
		case xml.EndElement:
			out = append(out, ">")
		case xml.CharData:
			out = append(out, "#"+string(t))
		}
	}
}

func FuzzParsePropfind(f *testing.F) {
	for _, tc := range propfindCases {
		f.Add(tc.body)
	}
	for _, b := range badPropfinds {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		pf, err := ParsePropfind(strings.NewReader(body))
		if err == nil && pf.Kind != Prop && len(pf.Names) != 0 {
			t.Fatalf("ParsePropfind(%q) = %+v: names without prop", body, pf)
		}
	})
}

func FuzzParseLockInfo(f *testing.F) {
	for _, tc := range lockinfoCases {
		f.Add(tc.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		li, ok, err := ParseLockInfo(strings.NewReader(body))
		if err != nil || !ok || li.Owner == nil {
			return
		}
		if _, err := tokensOf(li.Owner); err != nil {
			t.Fatalf("owner %q of %q is not well-formed: %v", li.Owner, body, err)
		}
	})
}

// FuzzParseProppatch checks that every captured value is well-formed and
// survives being written into a response and parsed again.
func FuzzParseProppatch(f *testing.F) {
	for _, tc := range proppatchCases {
		f.Add(tc.body)
	}
	for _, b := range badProppatches {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		patches, err := ParseProppatch(strings.NewReader(body))
		if err != nil {
			return
		}
		for _, p := range patches {
			for _, prop := range p.Props {
				if p.Remove {
					continue
				}
				first, err := tokensOf(prop.InnerXML)
				if err != nil {
					t.Fatalf("value %q from %q is not well-formed: %v", prop.InnerXML, body, err)
				}
				var b bytes.Buffer
				b.WriteString(`<D:prop xmlns:D="DAV:">`)
				WriteProperty(&b, prop)
				b.WriteString(`</D:prop>`)
				again, err := ParseProppatch(strings.NewReader(`<D:propertyupdate xmlns:D="DAV:"><D:set>` + b.String() + `</D:set></D:propertyupdate>`))
				if err != nil {
					t.Fatalf("written property %s does not parse: %v", b.String(), err)
				}
				second, err := tokensOf(again[0].Props[0].InnerXML)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(first, second); diff != "" {
					t.Fatalf("value changed in a round trip (-first +second):\n%s", diff)
				}
				if again[0].Props[0].XMLName != prop.XMLName || again[0].Props[0].Lang != prop.Lang {
					t.Fatalf("name or lang changed: %+v vs %+v", again[0].Props[0], prop)
				}
			}
		}
	})
}
