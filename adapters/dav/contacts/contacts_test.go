package contacts

import (
	"errors"
	"strings"
	"testing"

	"github.com/mycelium-go/mycelium/adapters/dav/davxml"
)

func vcf(lines ...string) string {
	all := append([]string{"BEGIN:VCARD", "VERSION:3.0"}, lines...)
	return strings.Join(append(all, "END:VCARD", ""), "\r\n")
}

var mueller = vcf("UID:m-1", "FN:Jürgen Müller", "N:Müller;Jürgen;;;", "EMAIL;TYPE=work,internet:juergen@example.com",
	"item1.TEL;TYPE=cell:+49 170 1234567", "ORG:Bäckerei Groß")

func TestParse(t *testing.T) {
	c, err := Parse([]byte(mueller))
	if err != nil {
		t.Fatal(err)
	}
	if c.UID != "m-1" || c.Version != "3.0" {
		t.Errorf("Parse = %+v", c)
	}
	for name, data := range map[string]string{
		"no uid":      vcf("FN:x"),
		"no version":  "BEGIN:VCARD\r\nUID:1\r\nFN:x\r\nEND:VCARD\r\n",
		"bad version": strings.Replace(vcf("UID:1"), "3.0", "9.9", 1),
		"two cards":   vcf("UID:1") + vcf("UID:2"),
		"not a vcard": "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
		"no end":      "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:1\r\n",
		"bad utf8":    vcf("UID:1", "FN:\xff"),
	} {
		var ve *ValidationError
		if _, err := Parse([]byte(data)); !errors.As(err, &ve) || ve.Cond != CondValidData {
			t.Errorf("%s: err = %v, want valid-address-data", name, err)
		}
	}
}

func query(t *testing.T, filter string) *Query {
	t.Helper()
	body := `<CR:addressbook-query xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop>` + filter + `</CR:addressbook-query>`
	n, err := davxml.Parse(strings.NewReader(body), davxml.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParseQuery(n)
	if err != nil {
		t.Fatalf("ParseQuery(%s): %v", filter, err)
	}
	return q
}

func TestFilter(t *testing.T) {
	c, err := Parse([]byte(mueller))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, filter string
		want         bool
	}{
		{"empty filter", `<CR:filter/>`, true},
		{"umlaut contains, default unicode-casemap", `<CR:filter><CR:prop-filter name="FN"><CR:text-match>MÜLLER</CR:text-match></CR:prop-filter></CR:filter>`, true},
		{"decomposed umlaut equals", `<CR:filter><CR:prop-filter name="FN"><CR:text-match match-type="equals">jürgen mu&#x308;ller</CR:text-match></CR:prop-filter></CR:filter>`, true},
		{"ascii-casemap does not fold Ü", `<CR:filter><CR:prop-filter name="FN"><CR:text-match collation="i;ascii-casemap">MÜLLER</CR:text-match></CR:prop-filter></CR:filter>`, false},
		{"octet exact", `<CR:filter><CR:prop-filter name="FN"><CR:text-match collation="i;octet">Müller</CR:text-match></CR:prop-filter></CR:filter>`, true},
		{"starts-with", `<CR:filter><CR:prop-filter name="EMAIL"><CR:text-match match-type="starts-with">JUERGEN@</CR:text-match></CR:prop-filter></CR:filter>`, true},
		{"ends-with miss", `<CR:filter><CR:prop-filter name="EMAIL"><CR:text-match match-type="ends-with">.org</CR:text-match></CR:prop-filter></CR:filter>`, false},
		{"negate", `<CR:filter><CR:prop-filter name="ORG"><CR:text-match negate-condition="yes">groß</CR:text-match></CR:prop-filter></CR:filter>`, false},
		{"grouped property", `<CR:filter><CR:prop-filter name="TEL"><CR:text-match>1234</CR:text-match></CR:prop-filter></CR:filter>`, true},
		{"is-not-defined", `<CR:filter><CR:prop-filter name="NICKNAME"><CR:is-not-defined/></CR:prop-filter></CR:filter>`, true},
		{"param-filter", `<CR:filter><CR:prop-filter name="EMAIL"><CR:param-filter name="TYPE"><CR:text-match match-type="equals">WORK</CR:text-match></CR:param-filter></CR:prop-filter></CR:filter>`, true},
		{"anyof", `<CR:filter><CR:prop-filter name="FN"><CR:text-match>nobody</CR:text-match></CR:prop-filter><CR:prop-filter name="ORG"><CR:text-match>bäckerei</CR:text-match></CR:prop-filter></CR:filter>`, true},
		{"allof", `<CR:filter test="allof"><CR:prop-filter name="FN"><CR:text-match>nobody</CR:text-match></CR:prop-filter><CR:prop-filter name="ORG"><CR:text-match>bäckerei</CR:text-match></CR:prop-filter></CR:filter>`, false},
		{"prop allof", `<CR:filter><CR:prop-filter name="FN" test="allof"><CR:text-match>jürgen</CR:text-match><CR:text-match>müller</CR:text-match></CR:prop-filter></CR:filter>`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := query(t, tt.filter)
			if got, err := q.Filter.Match(c.Card); err != nil || got != tt.want {
				t.Errorf("Match = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestQueryErrors(t *testing.T) {
	for _, f := range []string{
		`<CR:filter><CR:prop-filter name="FN"><CR:text-match collation="i;klingon">x</CR:text-match></CR:prop-filter></CR:filter>`,
		`<CR:filter><CR:prop-filter name="FN"><CR:text-match match-type="regex">x</CR:text-match></CR:prop-filter></CR:filter>`,
		`<CR:filter test="someof"/>`,
		`<CR:filter/><CR:limit><CR:nresults>0</CR:nresults></CR:limit>`,
	} {
		body := `<CR:addressbook-query xmlns:CR="urn:ietf:params:xml:ns:carddav">` + f + `</CR:addressbook-query>`
		n, err := davxml.Parse(strings.NewReader(body), davxml.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		var fe *FilterError
		if _, err := ParseQuery(n); !errors.As(err, &fe) {
			t.Errorf("ParseQuery(%s) err = %v, want FilterError", f, err)
		}
	}
	q := query(t, `<CR:filter/><CR:limit><CR:nresults>5</CR:nresults></CR:limit>`)
	if q.Limit != 5 {
		t.Errorf("limit = %d", q.Limit)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(mueller)
	f.Add(vcf("UID:x", "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQ", " AAAQABAAD"))
	f.Add("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:1\r\nX-A;B=\"c\":d\r\nEND:VCARD\r\n")
	q := &Filter{Props: []PropFilter{{Name: "FN", Texts: []TextMatch{{Text: "ü", Collation: DefaultCollation}}},
		{Name: "EMAIL", Params: []ParamFilter{{Name: "TYPE", Text: &TextMatch{Text: "work", Collation: DefaultCollation}}}}}}
	f.Fuzz(func(t *testing.T, data string) {
		c, err := Parse([]byte(data))
		if err != nil {
			return
		}
		if c.UID == "" {
			t.Fatal("accepted a card without UID")
		}
		_, _ = q.Match(c.Card)
	})
}
