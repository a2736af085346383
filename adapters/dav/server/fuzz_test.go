package server

import (
	"net/http"
	"strings"
	"testing"
)

func TestParseETagList(t *testing.T) {
	tests := []struct {
		in      []string
		wantErr bool
		want    etagList
	}{
		{nil, false, etagList{}},
		{[]string{"*"}, false, etagList{set: true, any: true}},
		{[]string{`"a"`}, false, etagList{set: true, tags: []entityTag{{value: "a"}}}},
		{[]string{`"a", W/"b"`, `"c"`}, false, etagList{set: true, tags: []entityTag{{value: "a"}, {weak: true, value: "b"}, {value: "c"}}}},
		{[]string{`abc`}, false, etagList{set: true, tags: []entityTag{{value: "abc"}}}},
		{[]string{`"a`}, true, etagList{}},
		{[]string{`"a"x`}, true, etagList{}},
		{[]string{``}, true, etagList{}},
		{[]string{`*, "a"`}, true, etagList{}},
	}
	for _, tt := range tests {
		got, err := parseETagList(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseETagList(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && (got.set != tt.want.set || got.any != tt.want.any || len(got.tags) != len(tt.want.tags)) {
			t.Errorf("parseETagList(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	l, _ := parseETagList([]string{`W/"x", "y"`})
	if l.matchStrong("x") || !l.matchStrong("y") || !l.matchWeak("x") {
		t.Error("strong/weak comparison wrong")
	}
}

func FuzzParseETagList(f *testing.F) {
	for _, s := range []string{`"a"`, `*`, `W/"b", "c"`, `"a`, `abc, def`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := parseETagList([]string{s})
		if err != nil {
			return
		}
		for _, tag := range l.tags {
			if strings.Contains(tag.value, `"`) {
				t.Fatalf("tag with a quote from %q", s)
			}
		}
	})
}

// FuzzHandler sends arbitrary bodies through the request parsers and
// handlers; nothing may panic or answer 5xx.
func FuzzHandler(f *testing.F) {
	seeds := []string{
		propfind(`<D:current-user-principal/><C:calendar-home-set/>`),
		`<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:sync-token/></D:include></D:propfind>`,
		calQuery(`<C:calendar-data><C:expand start="20240101T000000Z" end="20240201T000000Z"/></C:calendar-data>`,
			`<C:comp-filter name="VEVENT"><C:time-range start="20240101T000000Z" end="20240201T000000Z"/><C:prop-filter name="SUMMARY"><C:text-match negate-condition="yes">x</C:text-match></C:prop-filter></C:comp-filter>`),
		calQuery("", `<C:comp-filter name="VTODO"><C:comp-filter name="VALARM"><C:time-range start="20240101T000000Z"/></C:comp-filter></C:comp-filter>`),
		`<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop><D:href>/calendars/x/personal/a.ics</D:href><D:href>%zz</D:href></C:calendar-multiget>`,
		`<CR:addressbook-query xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop><CR:filter test="allof"><CR:prop-filter name="FN"><CR:text-match match-type="equals">ü</CR:text-match><CR:param-filter name="TYPE"><CR:is-not-defined/></CR:param-filter></CR:prop-filter></CR:filter><CR:limit><CR:nresults>1</CR:nresults></CR:limit></CR:addressbook-query>`,
		`<D:sync-collection xmlns:D="DAV:"><D:sync-token>http://mycelium.invalid/ns/sync/0123456789abcdef/1</D:sync-token><D:sync-level>1</D:sync-level><D:limit><D:nresults>1</D:nresults></D:limit><D:prop><D:getetag/></D:prop></D:sync-collection>`,
		`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x</D:displayname></D:prop></D:set></D:propertyupdate>`,
		mkcalBody,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	env := newEnv(f)
	c := env.overlay(1)
	cal := "/calendars/" + c.principal() + "/personal/"
	books := "/addressbooks/" + c.principal() + "/contacts/"
	c.want(http.StatusCreated, http.MethodPut, cal+"a.ics", calCT, ics("a", "DTSTART;TZID=Europe/Berlin:20240101T090000",
		"RRULE:FREQ=DAILY;COUNT=40", "BEGIN:VALARM", "TRIGGER:-PT5M", "ACTION:DISPLAY", "END:VALARM"))
	c.want(http.StatusCreated, http.MethodPut, cal+"t.ics", calCT, strings.ReplaceAll(ics("t", "DUE:20240105T100000Z"), "VEVENT", "VTODO"))
	c.want(http.StatusCreated, http.MethodPut, books+"c.vcf", cardCT, vcard("c", "Jürgen", "EMAIL;TYPE=work:j@example.org"))
	reqs := []struct{ method, path string }{
		{"PROPFIND", "/"}, {"PROPFIND", cal}, {"REPORT", cal}, {"REPORT", books},
		{"PROPPATCH", "/principals/" + c.principal() + "/"}, {"MKCALENDAR", cal}, {"MKCOL", books},
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		r := reqs[int(which)%len(reqs)]
		rec := c.send(r.method, r.path, hdr{"Depth": "1"}, body)
		if rec.Code >= 500 {
			t.Fatalf("%s %s = %d\n%s", r.method, r.path, rec.Code, rec.Body.String())
		}
	})
}
