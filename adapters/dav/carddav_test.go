package dav

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/carddav"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

func overlayKey(b byte) sdk.PublicKey {
	var k sdk.PublicKey
	for i := range k {
		k[i] = b ^ byte(i)
	}
	return k
}

// TestCardDAVClient drives the plugin with go-webdav's CardDAV client as
// an overlay peer (identity by key, no password): discovery, vCards with
// umlauts and a base64 PHOTO, addressbook-query, multiget, sync and a
// stale ETag.
func TestCardDAVClient(t *testing.T) {
	ctx := t.Context()
	key := overlayKey(0x11)
	p := newPlugin(t, `{}`, nil)
	base := p.serve(ServiceHTTP, sdk.OriginOverlay, key)
	hc := webdav.HTTPClient(http.DefaultClient)

	wc, err := webdav.NewClient(hc, base)
	if err != nil {
		t.Fatal(err)
	}
	principal, err := wc.FindCurrentUserPrincipal(ctx)
	if err != nil || principal != "/principals/"+key.String()+"/" {
		t.Fatalf("FindCurrentUserPrincipal = %q, %v", principal, err)
	}
	cc, err := carddav.NewClient(hc, base)
	if err != nil {
		t.Fatal(err)
	}
	home, err := cc.FindAddressBookHomeSet(ctx, principal)
	if err != nil || home != "/addressbooks/"+key.String()+"/" {
		t.Fatalf("FindAddressBookHomeSet = %q, %v", home, err)
	}
	books, err := cc.FindAddressBooks(ctx, home)
	if err != nil || len(books) != 1 || books[0].Name != "Contacts" || !books[0].SupportsAddressData("text/vcard", "4.0") {
		t.Fatalf("FindAddressBooks = %+v, %v", books, err)
	}
	book := books[0].Path

	photo := make([]byte, 6000)
	_, _ = rand.Read(photo)
	photoB64 := base64.StdEncoding.EncodeToString(photo)
	mk := func(uid, fn, email string) vcard.Card {
		c := vcard.Card{}
		c.SetValue(vcard.FieldVersion, "3.0")
		c.SetValue(vcard.FieldUID, uid)
		c.SetValue(vcard.FieldFormattedName, fn)
		c.SetValue(vcard.FieldEmail, email)
		return c
	}
	jurgen := mk("jurgen", "Jürgen Müller", "juergen@example.org")
	jurgen.Add(vcard.FieldPhoto, &vcard.Field{Value: photoB64, Params: vcard.Params{"ENCODING": {"b"}, "TYPE": {"JPEG"}}})
	cards := map[string]vcard.Card{
		"jurgen.vcf": jurgen,
		"zoe.vcf":    mk("zoe", "Zoë Ødegård", "zoe@example.org"),
		"bob.vcf":    mk("bob", "Bob Smith", "bob@example.com"),
	}
	etags := map[string]string{}
	for name, c := range cards {
		ao, err := cc.PutAddressObject(ctx, book+name, c)
		if err != nil {
			t.Fatalf("PutAddressObject(%s): %v", name, err)
		}
		etags[name] = ao.ETag
	}
	got, err := cc.GetAddressObject(ctx, book+"jurgen.vcf")
	if err != nil {
		t.Fatal(err)
	}
	if got.Card.PreferredValue(vcard.FieldFormattedName) != "Jürgen Müller" || got.Card.Value(vcard.FieldPhoto) != photoB64 || got.ETag != etags["jurgen.vcf"] {
		t.Fatalf("vCard round trip lost data: FN %q, photo equal %v, etag %q/%q", got.Card.PreferredValue(vcard.FieldFormattedName),
			got.Card.Value(vcard.FieldPhoto) == photoB64, got.ETag, etags["jurgen.vcf"])
	}

	query := func(text string, mt carddav.MatchType) []string {
		t.Helper()
		res, err := cc.QueryAddressBook(ctx, book, &carddav.AddressBookQuery{
			DataRequest: carddav.AddressDataRequest{AllProp: true},
			PropFilters: []carddav.PropFilter{{Name: vcard.FieldFormattedName, TextMatches: []carddav.TextMatch{{Text: text, MatchType: mt}}}},
		})
		if err != nil {
			t.Fatalf("QueryAddressBook(%q): %v", text, err)
		}
		var names []string
		for _, ao := range res {
			names = append(names, ao.Card.PreferredValue(vcard.FieldFormattedName))
		}
		slices.Sort(names)
		return names
	}
	for _, tc := range []struct {
		text string
		mt   carddav.MatchType
		want []string
	}{
		{"müller", carddav.MatchContains, []string{"Jürgen Müller"}},
		{"MÜLLER", carddav.MatchContains, []string{"Jürgen Müller"}},
		{"zoë ø", carddav.MatchStartsWith, []string{"Zoë Ødegård"}},
		{"SMITH", carddav.MatchEndsWith, []string{"Bob Smith"}},
		{"bob smith", carddav.MatchEquals, []string{"Bob Smith"}},
		{"mueller", carddav.MatchContains, nil},
	} {
		if got := query(tc.text, tc.mt); !slices.Equal(got, tc.want) {
			t.Errorf("text-match %q (%s) = %v, want %v", tc.text, tc.mt, got, tc.want)
		}
	}

	mg, err := cc.MultiGetAddressBook(ctx, book, &carddav.AddressBookMultiGet{
		Paths:       []string{book + "zoe.vcf", book + "jurgen.vcf"},
		DataRequest: carddav.AddressDataRequest{AllProp: true},
	})
	if err != nil || len(mg) != 2 {
		t.Fatalf("MultiGetAddressBook = %d, %v", len(mg), err)
	}
	for _, ao := range mg {
		if ao.Card.Value(vcard.FieldUID) == "" || ao.ETag == "" {
			t.Errorf("multiget object %s lacks data or ETag", ao.Path)
		}
	}

	sync, err := cc.SyncCollection(ctx, book, &carddav.SyncQuery{})
	if err != nil || len(sync.Updated) != 3 || sync.SyncToken == "" {
		t.Fatalf("initial SyncCollection = %+v, %v", sync, err)
	}
	bob2 := cards["bob.vcf"]
	bob2.SetValue(vcard.FieldNote, "changed")
	if _, err := cc.PutAddressObject(ctx, book+"bob.vcf", bob2); err != nil {
		t.Fatal(err)
	}
	delta, err := cc.SyncCollection(ctx, book, &carddav.SyncQuery{SyncToken: sync.SyncToken})
	if err != nil || len(delta.Updated) != 1 || delta.Updated[0].Path != book+"bob.vcf" || len(delta.Deleted) != 0 {
		t.Fatalf("delta SyncCollection = %+v, %v", delta, err)
	}

	// Raw HTTP for what the client library cannot express.
	raw := davHTTP{t: t, base: base}
	code, _, _ := raw.do(http.MethodPut, book+"bob.vcf", cardText("bob", "Bob S."),
		map[string]string{"Content-Type": "text/vcard", "If-Match": `"` + etags["bob.vcf"] + `"`})
	if code != http.StatusPreconditionFailed {
		t.Errorf("PUT with a stale ETag = %d, want 412", code)
	}
	body := raw.want(http.StatusMultiStatus, "REPORT", book, `<CR:addressbook-query xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop>`+
		`<CR:filter><CR:prop-filter name="FN"><CR:text-match collation="i;octet">müller</CR:text-match></CR:prop-filter></CR:filter></CR:addressbook-query>`, nil)
	if strings.Contains(body, "jurgen.vcf") {
		t.Errorf("i;octet matched a different case:\n%s", body)
	}
	body = raw.want(http.StatusMultiStatus, "REPORT", book, `<CR:addressbook-multiget xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><CR:address-data/></D:prop>`+
		`<D:href>`+book+`zoe.vcf</D:href><D:href>`+book+`nobody.vcf</D:href></CR:addressbook-multiget>`, nil)
	if !strings.Contains(body, "Zoë Ødegård") || !strings.Contains(body, "404 Not Found") {
		t.Errorf("multiget with a missing href:\n%s", body)
	}
	// Exact bytes in, exact bytes out (folded base64 in a vCard 4.0).
	exact := "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\r\nFN:Åsa Ängström\r\n" +
		"PHOTO:data:image/jpeg;base64," + photoB64[:60] + "\r\n " + photoB64[60:140] + "\r\n " + photoB64[140:200] + "\r\nEND:VCARD\r\n"
	raw.want(http.StatusCreated, http.MethodPut, book+"asa.vcf", exact, map[string]string{"Content-Type": "text/vcard; charset=utf-8", "If-None-Match": "*"})
	if back := raw.want(http.StatusOK, http.MethodGet, book+"asa.vcf", "", nil); back != exact {
		t.Errorf("GET returned different bytes:\n%q\nwant\n%q", back, exact)
	}
	code, errBody, _ := raw.do(http.MethodPut, book+"broken.vcf", "BEGIN:VCARD\r\nFN:x\r\n", map[string]string{"Content-Type": "text/vcard"})
	if code != http.StatusForbidden || !strings.Contains(errBody, "valid-address-data") {
		t.Errorf("invalid vCard: %d %s", code, errBody)
	}
	code, errBody, _ = raw.do(http.MethodPut, book+"dup.vcf", cardText("zoe", "Another Zoë"), map[string]string{"Content-Type": "text/vcard"})
	if code != http.StatusConflict || !strings.Contains(errBody, "no-uid-conflict") || !strings.Contains(errBody, "zoe.vcf") {
		t.Errorf("UID conflict: %d %s", code, errBody)
	}
}

func cardText(uid, fn string) string {
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + fn + "\r\nEND:VCARD\r\n"
}

// TestDAVSOverTLS checks the TLS service with the node CA: discovery via
// .well-known keeps the https scheme and port.
func TestDAVSOverTLS(t *testing.T) {
	mat := testTLS(t)
	p := newPlugin(t, `{}`, mat)
	p.addUser("carol", "tls only please")
	base := p.serve(ServiceHTTPS, sdk.OriginLoopback, sdk.PublicKey{})
	pool, err := mat.CAPool()
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	// Follow the .well-known redirect by hand, as DAV clients do (Go's
	// client would turn a redirected PROPFIND into a GET).
	noFollow := &http.Client{Transport: hc.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	propfind := func(u string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "PROPFIND", u, strings.NewReader(
			`<D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>`))
		req.SetBasicAuth("carol", "tls only please")
		req.Header.Set("Depth", "0")
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := propfind(base + "/.well-known/caldav")
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusMovedPermanently || err != nil || loc.String() != base+"/" {
		t.Fatalf(".well-known: %d, Location %v (%v); want 301 to %s/", resp.StatusCode, loc, err, base)
	}
	if resp = propfind(loc.String()); resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("PROPFIND at the context path: %d", resp.StatusCode)
	}
	cc, err := carddav.NewClient(webdav.HTTPClientWithBasicAuth(hc, "carol", "tls only please"), base)
	if err != nil {
		t.Fatal(err)
	}
	home, err := cc.FindAddressBookHomeSet(t.Context(), "/principals/carol/")
	if err != nil || home != "/addressbooks/carol/" {
		t.Fatalf("FindAddressBookHomeSet over TLS = %q, %v", home, err)
	}
	// Without the node CA the handshake fails.
	if _, err := http.Get(base + "/"); err == nil {
		t.Error("plain client trusted the test CA")
	}
}
