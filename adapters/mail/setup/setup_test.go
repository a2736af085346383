package setup

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/mycelium-go/mycelium/adapters/mail/addr"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

type noKeys struct{}

func (noKeys) AddressOf(context.Context, sdk.PublicKey) (netip.Addr, error) {
	return netip.Addr{}, sdk.ErrNotFound
}

func testResolver(t testing.TB) *addr.Resolver {
	r, err := addr.NewResolver(sdk.PublicKey{1}, netip.MustParseAddr("400::1"), map[string]sdk.PublicKey{"me.mesh": {1}}, noKeys{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAutoconfigOverlay(t *testing.T) {
	h := &AutoconfigHandler{Resolver: testResolver(t), Endpoints: func(_ context.Context, p sdk.Peer) Endpoints {
		if p.Origin != sdk.OriginOverlay {
			t.Errorf("peer origin = %v", p.Origin)
		}
		return Endpoints{IMAPS: Endpoint{"node.mesh", 993}, Submission: Endpoint{"node.mesh", 587}}
	}}
	req := httptest.NewRequest("GET", "/mail/config-v1.1.xml?emailaddress=bob%40me.mesh", nil)
	req = req.WithContext(sdk.WithPeer(req.Context(), sdk.Peer{Origin: sdk.OriginOverlay}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, "<hostname>node.mesh</hostname>") || !strings.Contains(body, `<emailProvider id="me.mesh">`) ||
		strings.Contains(body, "<port>143</port>") {
		t.Fatalf("GET = %d\n%s", rec.Code, body)
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), new(struct{})); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/mail/config-v1.1.xml", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d", rec.Code)
	}
}

// autoconfigDoc is the part of a clientConfig document the DAV tests read.
type autoconfigDoc struct {
	Provider struct {
		Incoming []struct {
			Host string `xml:"hostname"`
		} `xml:"incomingServer"`
	} `xml:"emailProvider"`
	AddressBooks []davDoc `xml:"addressBook"`
	Calendars    []davDoc `xml:"calendar"`
}

type davDoc struct {
	Type      string `xml:"type,attr"`
	Username  string `xml:"username"`
	Auth      string `xml:"authentication"`
	ServerURL string `xml:"serverURL"`
}

func TestAutoconfigDAV(t *testing.T) {
	mail := Endpoints{IMAPS: Endpoint{"5ff::1", 993}, Submissions: Endpoint{"5ff::1", 465}}
	tests := []struct {
		name string
		dav  DAVEndpoint
		want string // serverURL; "" for no DAV entries
	}{
		{"no dav", DAVEndpoint{}, ""},
		{"https on the overlay", DAVEndpoint{Endpoint{"5ff::1", 5233}, true}, "https://[5ff::1]:5233/"},
		{"http on loopback", DAVEndpoint{Endpoint{"localhost", 15232}, false}, "http://localhost:15232/"},
	}
	for _, tt := range tests {
		ep := mail
		ep.DAV = tt.dav
		body, err := Autoconfig("me.mesh", ep)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var doc autoconfigDoc
		if err := xml.Unmarshal(body, &doc); err != nil {
			t.Fatalf("%s: %v\n%s", tt.name, err, body)
		}
		if len(doc.Provider.Incoming) != 1 || doc.Provider.Incoming[0].Host != "5ff::1" {
			t.Errorf("%s: mail servers changed:\n%s", tt.name, body)
		}
		if tt.want == "" {
			if len(doc.AddressBooks)+len(doc.Calendars) != 0 {
				t.Errorf("%s: DAV entries without a DAV server:\n%s", tt.name, body)
			}
			continue
		}
		wantBook := davDoc{Type: "carddav", Username: "%EMAILLOCALPART%", Auth: "http-basic", ServerURL: tt.want}
		wantCal := wantBook
		wantCal.Type = "caldav"
		if len(doc.AddressBooks) != 1 || doc.AddressBooks[0] != wantBook || len(doc.Calendars) != 1 || doc.Calendars[0] != wantCal {
			t.Errorf("%s: got address books %+v, calendars %+v; want %+v and %+v", tt.name, doc.AddressBooks, doc.Calendars, wantBook, wantCal)
		}
		// clientConfig 1.1 puts them after the emailProvider, not in it.
		if i, j := strings.Index(string(body), "</emailProvider>"), strings.Index(string(body), "<addressBook"); i < 0 || j < i {
			t.Errorf("%s: addressBook inside emailProvider:\n%s", tt.name, body)
		}
	}
}

func TestQueryDomain(t *testing.T) {
	r := testResolver(t)
	tests := map[string]string{"": r.Canonical(), "a@me.mesh": "me.mesh", "A@" + strings.ToUpper(r.Canonical()): r.Canonical(),
		"a@example.com": "", "junk": "", "a@b@me.mesh": ""}
	for in, want := range tests {
		got, err := QueryDomain(in, r)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("QueryDomain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func FuzzQueryDomain(f *testing.F) {
	for _, s := range []string{"", "a@me.mesh", "a@example.com", "junk", "a@b@me.mesh", "%40"} {
		f.Add(s)
	}
	r := testResolver(f)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := QueryDomain(s, r)
		if err == nil && r.Classify(d) != addr.KindLocal {
			t.Fatalf("QueryDomain(%q) = %q, not a local domain", s, d)
		}
		if err == nil {
			if _, err := Autoconfig(d, Endpoints{IMAPS: Endpoint{"h", 993}, Submissions: Endpoint{"h", 465}}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestBuildProfileErrors(t *testing.T) {
	ok := Profile{Address: "a@me.mesh", IMAP: MailServer{"h", 993, true}, SMTP: MailServer{"h", 465, true}}
	if _, err := BuildProfile(ok); err != nil {
		t.Fatal(err)
	}
	bad := []Profile{
		{IMAP: ok.IMAP, SMTP: ok.SMTP},
		{Address: ok.Address, SMTP: ok.SMTP},
		{Address: ok.Address, IMAP: ok.IMAP, SMTP: MailServer{"h", 25, false}},
		{Address: ok.Address, IMAP: ok.IMAP, SMTP: ok.SMTP, CAPEM: []byte("not pem")},
		{Address: ok.Address, IMAP: ok.IMAP, SMTP: ok.SMTP, CalDAV: &DAVAccount{Host: "h"}},
		{Address: ok.Address, IMAP: ok.IMAP, SMTP: ok.SMTP, CardDAV: &DAVAccount{Port: 5233}},
	}
	for i, p := range bad {
		if _, err := BuildProfile(p); err == nil {
			t.Errorf("case %d: BuildProfile accepted %+v", i, p)
		}
	}
	// Stable identifiers: the same account gives the same profile UUIDs.
	a, _ := BuildProfile(ok)
	b, _ := BuildProfile(ok)
	if string(a) != string(b) {
		t.Error("profile not deterministic")
	}
	// Special characters are escaped.
	p := ok
	p.DisplayName = `<Alice & "Bob">`
	out, _ := BuildProfile(p)
	if !strings.Contains(string(out), "&lt;Alice &amp; &#34;Bob&#34;&gt;") {
		t.Errorf("display name not escaped:\n%s", out)
	}
}
