package server

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mycelium-go/mycelium/adapters/dav/davxml"
	"github.com/mycelium-go/mycelium/adapters/dav/store"
	"github.com/mycelium-go/mycelium/plugins/sdk/passwd"
)

// TestDiscoveryChainLikeIOS walks the chain iOS walks when an account is
// added with only a host name: .well-known, current-user-principal,
// OPTIONS on the principal, calendar-home-set, the home set listing.
func TestDiscoveryChainLikeIOS(t *testing.T) {
	e := newEnv(t)
	c := e.overlay(1)
	for _, wk := range []string{"/.well-known/caldav", "/.well-known/carddav", "/.well-known/caldav/"} {
		rec := c.want(http.StatusMovedPermanently, "PROPFIND", wk, hdr{"Depth": "0"}, propfind(`<D:current-user-principal/>`))
		if loc := rec.Header().Get("Location"); loc != "/" {
			t.Fatalf("%s Location = %q, want the relative context path /", wk, loc)
		}
	}
	// The context path answers current-user-principal (also for an empty
	// body, which some clients send after the redirect).
	pHref := "/principals/" + c.principal() + "/"
	for _, body := range []string{propfind(`<D:current-user-principal/><D:principal-URL/><D:resourcetype/>`), ""} {
		ms := parseMS(t, c.do("PROPFIND", "/", hdr{"Depth": "0"}, body))
		p, ok := ms.prop("/", davxml.NSDAV, "current-user-principal")
		if !ok || len(p.Hrefs) != 1 || p.Hrefs[0] != pHref {
			t.Fatalf("current-user-principal on / = %+v (body %q)", p, body)
		}
	}
	rec := c.want(http.StatusOK, http.MethodOptions, pHref, nil, "")
	for _, cls := range []string{"1", "3", "calendar-access", "addressbook", "extended-mkcol"} {
		if !slices.Contains(strings.Split(strings.ReplaceAll(rec.Header().Get("DAV"), " ", ""), ","), cls) {
			t.Errorf("DAV header %q lacks %s", rec.Header().Get("DAV"), cls)
		}
	}
	if !strings.Contains(rec.Header().Get("Allow"), "PROPFIND") {
		t.Errorf("Allow = %q", rec.Header().Get("Allow"))
	}
	ms := parseMS(t, c.do("PROPFIND", pHref, hdr{"Depth": "0"},
		propfind(`<C:calendar-home-set/><CR:addressbook-home-set/><D:resourcetype/><D:displayname/><D:principal-URL/><C:calendar-user-address-set/>`)))
	home, ok := ms.prop(pHref, davxml.NSCalDAV, "calendar-home-set")
	calHome := "/calendars/" + c.principal() + "/"
	if !ok || len(home.Hrefs) != 1 || home.Hrefs[0] != calHome {
		t.Fatalf("calendar-home-set = %+v", home)
	}
	if book, ok := ms.prop(pHref, davxml.NSCardDAV, "addressbook-home-set"); !ok || book.Hrefs[0] != "/addressbooks/"+c.principal()+"/" {
		t.Fatalf("addressbook-home-set = %+v", book)
	}
	if rt, _ := ms.prop(pHref, davxml.NSDAV, "resourcetype"); !strings.Contains(rt.Inner, "principal") {
		t.Errorf("principal resourcetype = %q", rt.Inner)
	}
	ms = parseMS(t, c.do("PROPFIND", calHome, hdr{"Depth": "1"},
		propfind(`<D:resourcetype/><D:displayname/><CS:getctag/><D:sync-token/><C:supported-calendar-component-set/><D:current-user-privilege-set/><D:current-user-principal/><D:supported-report-set/>`)))
	calHref := calHome + "personal/"
	if diff := cmp.Diff([]string{calHome, calHref}, ms.hrefs()); diff != "" {
		t.Fatalf("home listing: %s", diff)
	}
	if rt, _ := ms.prop(calHref, davxml.NSDAV, "resourcetype"); !strings.Contains(rt.Inner, "calendar") {
		t.Errorf("calendar resourcetype = %q", rt.Inner)
	}
	if dn, _ := ms.prop(calHref, davxml.NSDAV, "displayname"); dn.Text != "Personal" {
		t.Errorf("displayname = %q", dn.Text)
	}
	if comps, _ := ms.prop(calHref, davxml.NSCalDAV, "supported-calendar-component-set"); !strings.Contains(comps.Inner, "VTODO") {
		t.Errorf("component set = %q", comps.Inner)
	}
	if rep, _ := ms.prop(calHref, davxml.NSDAV, "supported-report-set"); !strings.Contains(rep.Inner, "sync-collection") {
		t.Errorf("supported-report-set = %q", rep.Inner)
	}
	if cup, ok := ms.prop(calHref, davxml.NSDAV, "current-user-principal"); !ok || cup.Hrefs[0] != pHref {
		t.Errorf("current-user-principal on calendar = %+v", cup)
	}
	for _, name := range []string{"getctag", "sync-token"} {
		space := davxml.NSDAV
		if name == "getctag" {
			space = davxml.NSCS
		}
		if p, ok := ms.prop(calHref, space, name); !ok || p.Text == "" {
			t.Errorf("%s missing on calendar", name)
		}
	}
	rec = c.want(http.StatusOK, http.MethodOptions, calHref, nil, "")
	if !strings.Contains(rec.Header().Get("Allow"), "REPORT") {
		t.Errorf("calendar Allow = %q", rec.Header().Get("Allow"))
	}
}

func TestIsolationBetweenPrincipals(t *testing.T) {
	e := newEnv(t)
	a, b := e.overlay(1), e.overlay(2)
	aCal := "/calendars/" + a.principal() + "/personal/"
	a.want(http.StatusCreated, http.MethodPut, aCal+"secret.ics", calCT, ics("secret", "DTSTART:20240101T100000Z"))
	b.want(http.StatusOK, "OPTIONS", aCal, nil, "")
	for _, req := range []struct{ method, path, body string }{
		{"PROPFIND", aCal, propfind(`<D:getetag/>`)},
		{"PROPFIND", "/calendars/" + a.principal() + "/", propfind(`<D:resourcetype/>`)},
		{"PROPFIND", "/principals/" + a.principal() + "/", propfind(`<D:displayname/>`)},
		{http.MethodGet, aCal + "secret.ics", ""},
		{http.MethodPut, aCal + "evil.ics", ics("evil", "DTSTART:20240101T100000Z")},
		{http.MethodDelete, aCal + "secret.ics", ""},
		{"REPORT", aCal, `<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:prop><D:getetag/></D:prop></D:sync-collection>`},
		{"MKCALENDAR", "/calendars/" + a.principal() + "/new/", ""},
	} {
		if rec := b.do(req.method, req.path, calCT, req.body); rec.Code != http.StatusForbidden {
			t.Errorf("B: %s %s = %d, want 403", req.method, req.path, rec.Code)
		}
	}
	// A multiget from B naming A's object does not leak it.
	bCal := "/calendars/" + b.principal() + "/personal/"
	ms := parseMS(t, b.do("REPORT", bCal, hdr{"Depth": "1"}, `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop><D:href>`+aCal+`secret.ics</D:href></C:calendar-multiget>`))
	if len(ms.Responses) != 1 || !strings.Contains(ms.Responses[0].Status, "403") || strings.Contains(fmt.Sprint(ms), "BEGIN:VCALENDAR") {
		t.Errorf("cross-principal multiget = %+v", ms)
	}
	// B's own tree lists only B's things.
	ms = parseMS(t, b.do("PROPFIND", "/principals/", hdr{"Depth": "1"}, propfind(`<D:resourcetype/>`)))
	if diff := cmp.Diff([]string{"/principals/", "/principals/" + b.principal() + "/"}, ms.hrefs()); diff != "" {
		t.Errorf("principal collection listing: %s", diff)
	}
	ms = parseMS(t, b.do("PROPFIND", bCal, hdr{"Depth": "1"}, propfind(`<D:getetag/>`)))
	if len(ms.Responses) != 1 {
		t.Errorf("B sees objects: %v", ms.hrefs())
	}
}

func TestBasicAuthOnLoopback(t *testing.T) {
	e := newEnv(t)
	e.addAccount("alice", "wonderland")
	for _, c := range []*client{e.loopback("", ""), e.loopback("alice", "wrong"), e.loopback("nobody", "x"), e.loopback("../x", "y")} {
		rec := c.do("PROPFIND", "/", hdr{"Depth": "0"}, propfind(`<D:current-user-principal/>`))
		if rec.Code != http.StatusUnauthorized || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic realm=") {
			t.Errorf("%q/%q: status %d, WWW-Authenticate %q", c.user, c.pass, rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	}
	c := e.loopback("alice", "wonderland")
	ms := parseMS(t, c.do("PROPFIND", "/", hdr{"Depth": "0"}, propfind(`<D:current-user-principal/>`)))
	if p, _ := ms.prop("/", davxml.NSDAV, "current-user-principal"); len(p.Hrefs) != 1 || p.Hrefs[0] != "/principals/alice/" {
		t.Errorf("principal = %+v", p)
	}
	// The login cache notices a password change.
	newHash, err := passwd.HashWith(passwd.Params{Memory: 64, Time: 1, Threads: 1}, "looking-glass")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetAccountHash(t.Context(), "alice", newHash); err != nil {
		t.Fatal(err)
	}
	if rec := c.do("PROPFIND", "/", hdr{"Depth": "0"}, ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("old password after change: %d", rec.Code)
	}
	if rec := e.loopback("alice", "looking-glass").do("PROPFIND", "/", hdr{"Depth": "0"}, ""); rec.Code != http.StatusMultiStatus {
		t.Errorf("new password: %d", rec.Code)
	}
	e.addAccount("bob", "builder")
	if rec := e.loopback("bob", "wonderland").do("PROPFIND", "/", hdr{"Depth": "0"}, ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("bob with alice's password: %d", rec.Code)
	}
	// Overlay peers need no password; a linked key acts as the account.
	if rec := e.overlay(7).do("PROPFIND", "/", hdr{"Depth": "0"}, ""); rec.Code != http.StatusMultiStatus {
		t.Errorf("overlay peer: %d", rec.Code)
	}
}

func TestConditionalRequests(t *testing.T) {
	e := newEnv(t)
	c := e.overlay(1)
	obj := "/calendars/" + c.principal() + "/personal/e1.ics"
	body := ics("e1", "DTSTART:20240101T100000Z", "SUMMARY:one")
	rec := c.want(http.StatusCreated, http.MethodPut, obj, hdr{"Content-Type": "text/calendar", "If-None-Match": "*"}, body)
	etag := rec.Header().Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 10 {
		t.Fatalf("ETag = %q, want a quoted strong tag", etag)
	}
	c.want(http.StatusPreconditionFailed, http.MethodPut, obj, hdr{"If-None-Match": "*"}, body)
	c.want(http.StatusPreconditionFailed, http.MethodPut, obj, hdr{"If-Match": `"stale"`}, ics("e1", "DTSTART:20240101T100000Z", "SUMMARY:two"))
	c.want(http.StatusPreconditionFailed, http.MethodPut, obj, hdr{"If-Match": "W/" + etag}, ics("e1", "DTSTART:20240101T100000Z", "SUMMARY:two"))
	rec = c.want(http.StatusNoContent, http.MethodPut, obj, hdr{"If-Match": etag}, ics("e1", "DTSTART:20240101T100000Z", "SUMMARY:two"))
	etag2 := rec.Header().Get("ETag")
	if etag2 == etag {
		t.Fatal("ETag did not change")
	}
	get := c.want(http.StatusOK, http.MethodGet, obj, nil, "")
	if get.Header().Get("ETag") != etag2 || !strings.Contains(get.Body.String(), "SUMMARY:two") {
		t.Errorf("GET: ETag %q, body %q", get.Header().Get("ETag"), get.Body.String())
	}
	c.want(http.StatusNotModified, http.MethodGet, obj, hdr{"If-None-Match": etag2}, "")
	c.want(http.StatusPreconditionFailed, http.MethodDelete, obj, hdr{"If-Match": etag}, "")
	c.want(http.StatusBadRequest, http.MethodDelete, obj, hdr{"If-Match": `"unterminated`}, "")
	c.want(http.StatusNoContent, http.MethodDelete, obj, hdr{"If-Match": etag2}, "")
	c.want(http.StatusNotFound, http.MethodGet, obj, nil, "")
	c.want(http.StatusPreconditionFailed, http.MethodPut, obj, hdr{"If-Match": "*"}, body)
}

func TestSyncCollection(t *testing.T) {
	e := newEnv(t)
	c := e.overlay(1)
	coll := "/addressbooks/" + c.principal() + "/contacts/"
	sync := func(token string, limit int) multistatus {
		t.Helper()
		lim := ""
		if limit > 0 {
			lim = fmt.Sprintf("<D:limit><D:nresults>%d</D:nresults></D:limit>", limit)
		}
		return parseMS(t, c.do("REPORT", coll, nil, `<D:sync-collection xmlns:D="DAV:"><D:sync-token>`+token+
			`</D:sync-token><D:sync-level>1</D:sync-level>`+lim+`<D:prop><D:getetag/></D:prop></D:sync-collection>`))
	}
	for _, n := range []string{"a", "b"} {
		c.want(http.StatusCreated, http.MethodPut, coll+n+".vcf", cardCT, vcard(n, "Person "+n))
	}
	first := sync("", 0)
	if diff := cmp.Diff([]string{coll + "a.vcf", coll + "b.vcf"}, first.hrefs()); diff != "" || first.SyncToken == "" {
		t.Fatalf("initial sync: %s token %q", diff, first.SyncToken)
	}
	ms := parseMS(t, c.do("PROPFIND", coll, hdr{"Depth": "0"}, propfind(`<D:sync-token/><CS:getctag/>`)))
	if p, _ := ms.prop(coll, davxml.NSDAV, "sync-token"); p.Text != first.SyncToken {
		t.Errorf("DAV:sync-token property %q != report token %q", p.Text, first.SyncToken)
	}
	ctag1, _ := ms.prop(coll, davxml.NSCS, "getctag")
	if again := sync(first.SyncToken, 0); len(again.Responses) != 0 || again.SyncToken != first.SyncToken {
		t.Errorf("no-change sync = %+v", again)
	}
	c.want(http.StatusNoContent, http.MethodPut, coll+"a.vcf", cardCT, vcard("a", "Person A changed"))
	c.want(http.StatusNoContent, http.MethodDelete, coll+"b.vcf", nil, "")
	c.want(http.StatusCreated, http.MethodPut, coll+"c.vcf", cardCT, vcard("c", "Person c"))
	delta := sync(first.SyncToken, 0)
	if diff := cmp.Diff([]string{coll + "a.vcf", coll + "b.vcf", coll + "c.vcf"}, delta.hrefs()); diff != "" {
		t.Fatalf("delta: %s", diff)
	}
	if !strings.Contains(delta.status(coll+"b.vcf"), "404") {
		t.Errorf("deleted member status = %q", delta.status(coll+"b.vcf"))
	}
	if _, ok := delta.prop(coll+"a.vcf", davxml.NSDAV, "getetag"); !ok {
		t.Error("changed member without getetag")
	}
	ms = parseMS(t, c.do("PROPFIND", coll, hdr{"Depth": "0"}, propfind(`<CS:getctag/>`)))
	if ctag2, _ := ms.prop(coll, davxml.NSCS, "getctag"); ctag2.Text == ctag1.Text {
		t.Error("getctag did not change")
	}
	// Limited: two per round, a 507 marks the truncation.
	part := sync(first.SyncToken, 2)
	if len(part.Responses) != 3 || !strings.Contains(part.status(coll), "507") {
		t.Fatalf("limited sync = %+v", part)
	}
	rest := sync(part.SyncToken, 2)
	if diff := cmp.Diff([]string{coll + "c.vcf"}, rest.hrefs()); diff != "" {
		t.Errorf("rest after limit: %s", diff)
	}
	for _, bad := range []string{"http://example.com/x", store.FormatToken("0000000000000000", 1), strings.Replace(first.SyncToken, "/1", "/999", 1) + "9"} {
		rec := c.do("REPORT", coll, nil, `<D:sync-collection xmlns:D="DAV:"><D:sync-token>`+bad+`</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`)
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "valid-sync-token") {
			t.Errorf("token %q: %d %s", bad, rec.Code, rec.Body.String())
		}
	}
	// A deleted and recreated collection has new tokens.
	c.want(http.StatusNoContent, http.MethodDelete, coll, nil, "")
	c.want(http.StatusCreated, "MKCOL", coll, nil, "")
	if ms := parseMS(t, c.do("PROPFIND", coll, hdr{"Depth": "1"}, propfind(`<D:getetag/>`))); len(ms.Responses) != 1 {
		t.Errorf("recreated collection has members: %v", ms.hrefs())
	}
	rec := c.do("REPORT", coll, nil, `<D:sync-collection xmlns:D="DAV:"><D:sync-token>`+first.SyncToken+`</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`)
	if rec.Code != http.StatusForbidden {
		t.Errorf("old token on recreated collection: %d", rec.Code)
	}
}

func TestPersistenceAcrossRestart(t *testing.T) {
	e := newEnv(t)
	c := e.overlay(1)
	home := "/calendars/" + c.principal() + "/"
	c.want(http.StatusCreated, "MKCALENDAR", home+"work/", nil, `<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>Work</D:displayname></D:prop></D:set></C:mkcalendar>`)
	rec := c.want(http.StatusCreated, http.MethodPut, home+"work/m.ics", calCT, ics("m", "DTSTART:20240101T100000Z"))
	etag := rec.Header().Get("ETag")
	ms := parseMS(t, c.do("PROPFIND", home+"work/", hdr{"Depth": "0"}, propfind(`<D:sync-token/>`)))
	tok, _ := ms.prop(home+"work/", davxml.NSDAV, "sync-token")
	e.restart()
	c = e.overlay(1)
	get := c.want(http.StatusOK, http.MethodGet, home+"work/m.ics", nil, "")
	if get.Header().Get("ETag") != etag {
		t.Errorf("ETag after restart %q, want %q", get.Header().Get("ETag"), etag)
	}
	ms = parseMS(t, c.do("PROPFIND", home+"work/", hdr{"Depth": "0"}, propfind(`<D:sync-token/><D:displayname/>`)))
	if p, _ := ms.prop(home+"work/", davxml.NSDAV, "sync-token"); p.Text != tok.Text {
		t.Errorf("sync-token after restart %q, want %q", p.Text, tok.Text)
	}
	if p, _ := ms.prop(home+"work/", davxml.NSDAV, "displayname"); p.Text != "Work" {
		t.Errorf("displayname after restart %q", p.Text)
	}
}

// TestConcurrentWrites: parallel PUTs to one collection all land, and
// each gets its own change number (the sync delta sees all of them).
func TestConcurrentWrites(t *testing.T) {
	e := newEnv(t)
	c := e.overlay(1)
	coll := "/calendars/" + c.principal() + "/personal/"
	first := parseMS(t, c.do("REPORT", coll, nil, `<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:prop><D:getetag/></D:prop></D:sync-collection>`))
	const workers, each = 6, 10
	errs := make(chan string, workers*each)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				uid := fmt.Sprintf("w%d-%d", w, i)
				if rec := c.send(http.MethodPut, coll+uid+".ics", calCT, ics(uid, "DTSTART:20240101T100000Z")); rec.Code != http.StatusCreated {
					errs <- fmt.Sprintf("%s: %d %s", uid, rec.Code, rec.Body.String())
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	delta := parseMS(t, c.do("REPORT", coll, nil, `<D:sync-collection xmlns:D="DAV:"><D:sync-token>`+first.SyncToken+`</D:sync-token><D:prop><D:getetag/></D:prop></D:sync-collection>`))
	if len(delta.Responses) != workers*each {
		t.Errorf("delta has %d members, want %d", len(delta.Responses), workers*each)
	}
}
