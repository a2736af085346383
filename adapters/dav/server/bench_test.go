package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// seedEvents stores n events in the default calendar: four in five are
// one-hour events spread over 2024, one in five a weekly series in
// Europe/Berlin starting in January 2024.
func seedEvents(b *testing.B, c *client, n int) string {
	b.Helper()
	cal := "/calendars/" + c.principal() + "/personal/"
	start := time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		uid := fmt.Sprintf("ev-%04d", i)
		var body string
		if i%5 == 4 {
			body = ics(uid, "DTSTART;TZID=Europe/Berlin:"+start.AddDate(0, 0, i%28).Format("20060102T150405"),
				"DURATION:PT30M", "RRULE:FREQ=WEEKLY", "SUMMARY:Series "+uid, "DESCRIPTION:"+strings.Repeat("recurring ", 20))
		} else {
			at := start.Add(time.Duration(i) * 8 * time.Hour)
			body = ics(uid, "DTSTART:"+at.Format("20060102T150405Z"), "DTEND:"+at.Add(time.Hour).Format("20060102T150405Z"),
				"SUMMARY:Meeting "+uid, "LOCATION:Room "+fmt.Sprint(i%7), "DESCRIPTION:"+strings.Repeat("agenda ", 20))
		}
		if rec := c.send(http.MethodPut, cal+uid+".ics", calCT, body); rec.Code != http.StatusCreated {
			b.Fatalf("PUT %s = %d %s", uid, rec.Code, rec.Body.String())
		}
	}
	return cal
}

// BenchmarkCalendarQuery1000 measures calendar-query REPORTs over a
// calendar of 1,000 events (200 of them weekly series).
func BenchmarkCalendarQuery1000(b *testing.B) {
	e := newEnv(b)
	c := e.overlay(1)
	cal := seedEvents(b, c, 1000)
	cases := []struct{ name, body string }{
		{"week_etag", calQuery("", `<C:comp-filter name="VEVENT"><C:time-range start="20240610T000000Z" end="20240617T000000Z"/></C:comp-filter>`)},
		{"week_data", calQuery("<C:calendar-data/>", `<C:comp-filter name="VEVENT"><C:time-range start="20240610T000000Z" end="20240617T000000Z"/></C:comp-filter>`)},
		{"week_expand", calQuery(`<C:calendar-data><C:expand start="20240610T000000Z" end="20240617T000000Z"/></C:calendar-data>`,
			`<C:comp-filter name="VEVENT"><C:time-range start="20240610T000000Z" end="20240617T000000Z"/></C:comp-filter>`)},
		{"year_data", calQuery("<C:calendar-data/>", `<C:comp-filter name="VEVENT"><C:time-range start="20240101T000000Z" end="20250101T000000Z"/></C:comp-filter>`)},
		{"text_all", calQuery("", `<C:comp-filter name="VEVENT"><C:prop-filter name="LOCATION"><C:text-match>room 3</C:text-match></C:prop-filter></C:comp-filter>`)},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var matches int
			for b.Loop() {
				rec := c.send("REPORT", cal, hdr{"Depth": "1"}, tc.body)
				if rec.Code != http.StatusMultiStatus {
					b.Fatalf("REPORT = %d", rec.Code)
				}
				matches = strings.Count(rec.Body.String(), "<D:response>")
			}
			b.ReportMetric(float64(matches), "matches")
		})
	}
}

// BenchmarkSyncCollection1000 measures an initial sync-collection of
// 1,000 members and an empty delta.
func BenchmarkSyncCollection1000(b *testing.B) {
	e := newEnv(b)
	c := e.overlay(1)
	cal := seedEvents(b, c, 1000)
	body := `<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`
	for b.Loop() {
		if rec := c.send("REPORT", cal, nil, body); rec.Code != http.StatusMultiStatus {
			b.Fatalf("REPORT = %d", rec.Code)
		}
	}
}
