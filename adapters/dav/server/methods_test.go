package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mycelium-go/mycelium/adapters/dav/davxml"
)

const mkcalBody = `<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:A="http://apple.com/ns/ical/">
<D:set><D:prop><D:displayname>Tasks</D:displayname><C:calendar-description>Things to do</C:calendar-description>
<A:calendar-color>#FF0000FF</A:calendar-color><C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>
</D:prop></D:set></C:mkcalendar>`

func TestMkcalendarAndProppatch(t *testing.T) {
	e := newEnv(t)
	c := e.overlay(1)
	home := "/calendars/" + c.principal() + "/"
	tasks := home + "tasks/"
	c.want(http.StatusCreated, "MKCALENDAR", tasks, nil, mkcalBody)
	c.want(http.StatusMethodNotAllowed, "MKCALENDAR", tasks, nil, mkcalBody)
	c.want(http.StatusForbidden, "MKCALENDAR", "/addressbooks/"+c.principal()+"/cal/", nil, "")
	c.want(http.StatusForbidden, "MKCALENDAR", tasks+"deeper.ics", nil, "")
	c.want(http.StatusForbidden, "MKCALENDAR", home+"bad/", nil, strings.Replace(mkcalBody, "VTODO", "VBOGUS", 1))

	ms := parseMS(t, c.do("PROPFIND", tasks, hdr{"Depth": "0"}, propfind(`<D:displayname/><C:calendar-description/><C:supported-calendar-component-set/><x:calendar-color xmlns:x="http://apple.com/ns/ical/"/><CS:getctag/>`)))
	if p, _ := ms.prop(tasks, davxml.NSDAV, "displayname"); p.Text != "Tasks" {
		t.Errorf("displayname = %q", p.Text)
	}
	if p, _ := ms.prop(tasks, davxml.NSCalDAV, "calendar-description"); p.Text != "Things to do" {
		t.Errorf("description = %q", p.Text)
	}
	if p, _ := ms.prop(tasks, davxml.NSApple, "calendar-color"); p.Text != "#FF0000FF" {
		t.Errorf("color = %q", p.Text)
	}
	if p, _ := ms.prop(tasks, davxml.NSCalDAV, "supported-calendar-component-set"); !strings.Contains(p.Inner, "VTODO") || strings.Contains(p.Inner, "VEVENT") {
		t.Errorf("component set = %q", p.Inner)
	}
	ctag1, _ := ms.prop(tasks, davxml.NSCS, "getctag")

	// VEVENT is refused by a VTODO-only calendar.
	rec := c.want(http.StatusForbidden, http.MethodPut, tasks+"ev.ics", calCT, ics("ev", "DTSTART:20240101T100000Z"))
	if !strings.Contains(rec.Body.String(), "supported-calendar-component") {
		t.Errorf("wrong component: %s", rec.Body.String())
	}

	// PROPPATCH is atomic: one protected property fails all.
	rec = c.want(http.StatusMultiStatus, "PROPPATCH", tasks, nil, `<D:propertyupdate xmlns:D="DAV:" xmlns:A="http://apple.com/ns/ical/"><D:set><D:prop>`+
		`<D:displayname>Renamed</D:displayname><D:getetag>"x"</D:getetag></D:prop></D:set></D:propertyupdate>`)
	if body := rec.Body.String(); !strings.Contains(body, "403 Forbidden") || !strings.Contains(body, "424 Failed Dependency") {
		t.Errorf("PROPPATCH with a protected property:\n%s", body)
	}
	ms = parseMS(t, c.do("PROPFIND", tasks, hdr{"Depth": "0"}, propfind(`<D:displayname/>`)))
	if p, _ := ms.prop(tasks, davxml.NSDAV, "displayname"); p.Text != "Tasks" {
		t.Errorf("failed PROPPATCH changed displayname to %q", p.Text)
	}
	rec = c.want(http.StatusMultiStatus, "PROPPATCH", tasks, nil, `<D:propertyupdate xmlns:D="DAV:" xmlns:A="http://apple.com/ns/ical/" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>`+
		`<D:displayname>Renamed</D:displayname><A:calendar-color>#00FF00</A:calendar-color><A:calendar-order>3</A:calendar-order></D:prop></D:set>`+
		`<D:remove><D:prop><C:calendar-description/></D:prop></D:remove></D:propertyupdate>`)
	if body := rec.Body.String(); strings.Contains(body, "403") || strings.Contains(body, "424") {
		t.Errorf("PROPPATCH failed:\n%s", body)
	}
	ms = parseMS(t, c.do("PROPFIND", tasks, hdr{"Depth": "0"}, propfind(`<D:displayname/><C:calendar-description/><x:calendar-order xmlns:x="http://apple.com/ns/ical/"/><CS:getctag/>`)))
	if p, _ := ms.prop(tasks, davxml.NSDAV, "displayname"); p.Text != "Renamed" {
		t.Errorf("displayname after PROPPATCH = %q", p.Text)
	}
	if _, ok := ms.prop(tasks, davxml.NSCalDAV, "calendar-description"); ok {
		t.Error("description not removed")
	}
	if p, _ := ms.prop(tasks, davxml.NSApple, "calendar-order"); p.Text != "3" {
		t.Errorf("dead property calendar-order = %q", p.Text)
	}
	if p, _ := ms.prop(tasks, davxml.NSCS, "getctag"); p.Text == ctag1.Text {
		t.Error("getctag unchanged by PROPPATCH")
	}
	// Properties of the principal are not writable.
	rec = c.want(http.StatusMultiStatus, "PROPPATCH", "/principals/"+c.principal()+"/", nil,
		`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>me</D:displayname></D:prop></D:set></D:propertyupdate>`)
	if !strings.Contains(rec.Body.String(), "403") {
		t.Errorf("PROPPATCH on principal:\n%s", rec.Body.String())
	}
	// An invalid calendar-timezone is refused.
	rec = c.want(http.StatusMultiStatus, "PROPPATCH", tasks, nil, `<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>`+
		`<C:calendar-timezone>not a calendar</C:calendar-timezone></D:prop></D:set></D:propertyupdate>`)
	if !strings.Contains(rec.Body.String(), "403") {
		t.Errorf("invalid calendar-timezone accepted:\n%s", rec.Body.String())
	}

	c.want(http.StatusNoContent, http.MethodDelete, tasks, nil, "")
	c.want(http.StatusNotFound, "PROPFIND", tasks, hdr{"Depth": "0"}, propfind(`<D:displayname/>`))
	c.want(http.StatusForbidden, http.MethodDelete, home, nil, "")
}

func TestExtendedMkcol(t *testing.T) {
	e := newEnv(t)
	c := e.overlay(1)
	books := "/addressbooks/" + c.principal() + "/"
	c.want(http.StatusCreated, "MKCOL", books+"work/", nil, `<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>`+
		`<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype><D:displayname>Work</D:displayname>`+
		`<CR:addressbook-description>Colleagues</CR:addressbook-description></D:prop></D:set></D:mkcol>`)
	rec := c.want(http.StatusForbidden, "MKCOL", books+"cal/", nil, `<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>`+
		`<D:resourcetype><D:collection/><C:calendar/></D:resourcetype></D:prop></D:set></D:mkcol>`)
	if !strings.Contains(rec.Body.String(), "valid-resourcetype") {
		t.Errorf("calendar in address book home: %s", rec.Body.String())
	}
	c.want(http.StatusCreated, "MKCOL", "/calendars/"+c.principal()+"/ext/", nil, `<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>`+
		`<D:resourcetype><D:collection/><C:calendar/></D:resourcetype><C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set></D:prop></D:set></D:mkcol>`)
	ms := parseMS(t, c.do("PROPFIND", books, hdr{"Depth": "1"}, propfind(`<D:resourcetype/><D:displayname/><CR:addressbook-description/><CR:supported-address-data/>`)))
	if p, _ := ms.prop(books+"work/", davxml.NSCardDAV, "addressbook-description"); p.Text != "Colleagues" {
		t.Errorf("addressbook-description = %q", p.Text)
	}
	if p, _ := ms.prop(books+"work/", davxml.NSDAV, "resourcetype"); !strings.Contains(p.Inner, "addressbook") {
		t.Errorf("resourcetype = %q", p.Inner)
	}
	c.want(http.StatusBadRequest, "MKCOL", books+"x/", nil, "<not xml")
	c.want(http.StatusForbidden, "MKCOL", books+".hidden/", nil, "")
}

func TestPutValidation(t *testing.T) {
	e := newEnv(t)
	c := e.overlay(1)
	cal := "/calendars/" + c.principal() + "/personal/"
	tests := []struct {
		name, path, ctype, body, cond string
		code                          int
	}{
		{"garbage", cal + "a.ics", "text/calendar", "hello", "valid-calendar-data", 403},
		{"vcard in a calendar", cal + "a.ics", "text/vcard", vcard("x", "X"), "supported-calendar-data", 403},
		{"method", cal + "a.ics", "text/calendar", strings.Replace(ics("m", "DTSTART:20240101T100000Z"), "PRODID", "METHOD:REQUEST\r\nPRODID", 1), "valid-calendar-object-resource", 403},
		{"no parent", "/calendars/" + c.principal() + "/nope/a.ics", "text/calendar", ics("n", "DTSTART:20240101T100000Z"), "", 409},
		{"on a collection", cal, "text/calendar", ics("n", "DTSTART:20240101T100000Z"), "", 405},
		{"too large", cal + "big.ics", "text/calendar", ics("big", "DTSTART:20240101T100000Z", "DESCRIPTION:"+strings.Repeat("x", 2<<20)), "max-resource-size", 403},
		{"calendar in an address book", "/addressbooks/" + c.principal() + "/contacts/a.vcf", "text/calendar", ics("n", "DTSTART:20240101T100000Z"), "supported-address-data", 403},
		{"card without UID", "/addressbooks/" + c.principal() + "/contacts/a.vcf", "text/vcard", "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nEND:VCARD\r\n", "valid-address-data", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := c.do(http.MethodPut, tt.path, hdr{"Content-Type": tt.ctype}, tt.body)
			if rec.Code != tt.code || (tt.cond != "" && !strings.Contains(rec.Body.String(), tt.cond)) {
				t.Errorf("PUT = %d %s; want %d %s", rec.Code, rec.Body.String(), tt.code, tt.cond)
			}
		})
	}
	c.want(http.StatusCreated, http.MethodPut, cal+"one.ics", calCT, ics("same-uid", "DTSTART:20240101T100000Z"))
	rec := c.want(http.StatusConflict, http.MethodPut, cal+"two.ics", calCT, ics("same-uid", "DTSTART:20240102T100000Z"))
	if !strings.Contains(rec.Body.String(), "no-uid-conflict") || !strings.Contains(rec.Body.String(), cal+"one.ics") {
		t.Errorf("UID conflict body: %s", rec.Body.String())
	}
}

const queryHead = `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/>%s</D:prop>`

func calQuery(data, filter string) string {
	return strings.Replace(queryHead, "%s", data, 1) + `<C:filter><C:comp-filter name="VCALENDAR">` + filter + `</C:comp-filter></C:filter></C:calendar-query>`
}

func TestCalendarQueryAndExpand(t *testing.T) {
	e := newEnv(t)
	c := e.overlay(1)
	cal := "/calendars/" + c.principal() + "/personal/"
	c.want(http.StatusCreated, http.MethodPut, cal+"weekly.ics", calCT, ics("weekly", "DTSTART;TZID=Europe/Berlin:20240101T090000",
		"DURATION:PT1H", "RRULE:FREQ=WEEKLY", "EXDATE;TZID=Europe/Berlin:20240108T090000", "SUMMARY:Standup"))
	c.want(http.StatusCreated, http.MethodPut, cal+"single.ics", calCT, ics("single", "DTSTART:20240110T120000Z", "SUMMARY:Lunch"))
	c.want(http.StatusCreated, http.MethodPut, cal+"floating.ics", calCT, ics("floating", "DTSTART:20240110T090000", "SUMMARY:Floating"))

	run := func(body string) multistatus {
		t.Helper()
		return parseMS(t, c.do("REPORT", cal, hdr{"Depth": "1"}, body))
	}
	ms := run(calQuery("", `<C:comp-filter name="VEVENT"><C:time-range start="20240108T000000Z" end="20240109T000000Z"/></C:comp-filter>`))
	if len(ms.Responses) != 0 {
		t.Errorf("EXDATE'd week matched: %v", ms.hrefs())
	}
	ms = run(calQuery("", `<C:comp-filter name="VEVENT"><C:time-range start="20240715T073000Z" end="20240715T074500Z"/></C:comp-filter>`))
	if len(ms.Responses) != 1 || ms.Responses[0].Href != cal+"weekly.ics" {
		t.Errorf("summer occurrence at 07:00Z: %v", ms.hrefs())
	}
	ms = run(calQuery("", `<C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:text-match>LUNCH</C:text-match></C:prop-filter></C:comp-filter>`))
	if len(ms.Responses) != 1 || ms.Responses[0].Href != cal+"single.ics" {
		t.Errorf("text-match: %v", ms.hrefs())
	}
	rec := c.do("REPORT", cal, nil, calQuery("", `<C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:text-match collation="i;bogus">x</C:text-match></C:prop-filter></C:comp-filter>`))
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "supported-collation") {
		t.Errorf("unknown collation: %d %s", rec.Code, rec.Body.String())
	}

	// Server-side expansion of one week.
	ms = run(calQuery(`<C:calendar-data><C:expand start="20240115T000000Z" end="20240122T000000Z"/></C:calendar-data>`,
		`<C:comp-filter name="VEVENT"><C:time-range start="20240115T000000Z" end="20240122T000000Z"/></C:comp-filter>`))
	data, ok := ms.prop(cal+"weekly.ics", davxml.NSCalDAV, "calendar-data")
	if !ok {
		t.Fatalf("no calendar-data: %+v", ms)
	}
	for _, want := range []string{"RECURRENCE-ID:20240115T080000Z", "DTSTART:20240115T080000Z"} {
		if !strings.Contains(data.Text, want) {
			t.Errorf("expanded data lacks %s:\n%s", want, data.Text)
		}
	}
	for _, bad := range []string{"RRULE", "EXDATE", "TZID", "VTIMEZONE"} {
		if strings.Contains(data.Text, bad) {
			t.Errorf("expanded data has %s:\n%s", bad, data.Text)
		}
	}
	if n := strings.Count(data.Text, "BEGIN:VEVENT"); n != 1 {
		t.Errorf("%d instances in one week", n)
	}

	// Floating times follow the calendar's timezone.
	ms = run(calQuery("", `<C:comp-filter name="VEVENT"><C:time-range start="20240110T080000Z" end="20240110T081500Z"/></C:comp-filter>`))
	if len(ms.Responses) != 0 {
		t.Errorf("floating 09:00 matched 08:00Z in UTC: %v", ms.hrefs())
	}
	tz := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n"
	c.want(http.StatusMultiStatus, "PROPPATCH", cal, nil, `<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:calendar-timezone>`+
		tz+`</C:calendar-timezone></D:prop></D:set></D:propertyupdate>`)
	ms = run(calQuery("", `<C:comp-filter name="VEVENT"><C:time-range start="20240110T080000Z" end="20240110T081500Z"/></C:comp-filter>`))
	if len(ms.Responses) != 1 || ms.Responses[0].Href != cal+"floating.ics" {
		t.Errorf("floating 09:00 Berlin at 08:00Z: %v", ms.hrefs())
	}

	// calendar-multiget with Prefer: return=minimal leaves out 404 props.
	rec = c.do("REPORT", cal, hdr{"Prefer": "return=minimal"}, `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/><D:nonexistent/></D:prop>`+
		`<D:href>`+cal+`single.ics</D:href><D:href>http://example.com`+cal+`weekly.ics</D:href><D:href>`+cal+`missing.ics</D:href></C:calendar-multiget>`)
	ms = parseMS(t, rec)
	if len(ms.Responses) != 3 || !strings.Contains(ms.status(cal+"missing.ics"), "404") || strings.Contains(rec.Body.String(), "nonexistent") {
		t.Errorf("multiget:\n%s", rec.Body.String())
	}
	if p, _ := ms.prop(cal+"weekly.ics", davxml.NSCalDAV, "calendar-data"); !strings.Contains(p.Text, "RRULE:FREQ=WEEKLY") {
		t.Errorf("multiget by absolute URL: %q", p.Text)
	}
	// Unknown reports and reports on the wrong resource.
	rec = c.do("REPORT", cal, nil, `<D:expand-property xmlns:D="DAV:"/>`)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "supported-report") {
		t.Errorf("unknown report: %d %s", rec.Code, rec.Body.String())
	}
	rec = c.do("REPORT", "/addressbooks/"+c.principal()+"/contacts/", nil, calQuery("", ""))
	if rec.Code != http.StatusForbidden {
		t.Errorf("calendar-query on an address book: %d", rec.Code)
	}
}

func TestGetOnCollectionsAndUnknownPaths(t *testing.T) {
	e := newEnv(t)
	c := e.overlay(1)
	for _, p := range []string{"/", "/principals/" + c.principal() + "/", "/calendars/" + c.principal() + "/personal/"} {
		c.want(http.StatusOK, http.MethodGet, p, nil, "")
	}
	c.want(http.StatusNotFound, http.MethodGet, "/calendars/"+c.principal()+"/nope/", nil, "")
	c.want(http.StatusNotFound, "PROPFIND", "/elsewhere/", nil, "")
	c.want(http.StatusNotFound, "PROPFIND", "/calendars/a/b/c/d", nil, "")
	c.want(http.StatusMethodNotAllowed, "PATCH", "/", nil, "")
	c.want(http.StatusBadRequest, "PROPFIND", "/", hdr{"Depth": "2"}, "")
	c.want(http.StatusBadRequest, "PROPFIND", "/", nil, "<propfind")
}
