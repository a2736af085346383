package calendar

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/adapters/dav/davxml"
)

// ics wraps component lines in a VCALENDAR with CRLF line ends.
func ics(lines ...string) string {
	all := append([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN"}, lines...)
	all = append(all, "END:VCALENDAR", "")
	return strings.Join(all, "\r\n")
}

func event(uid string, props ...string) []string {
	out := []string{"BEGIN:VEVENT", "UID:" + uid, "DTSTAMP:20240101T000000Z"}
	out = append(out, props...)
	return append(out, "END:VEVENT")
}

const berlinVTZ = `BEGIN:VTIMEZONE
TZID:%s
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE`

func vtz(tzid string) []string {
	return strings.Split(strings.ReplaceAll(berlinVTZ, "%s", tzid), "\n")
}

func parse(t *testing.T, data string) *Object {
	t.Helper()
	o, err := Parse([]byte(data))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, data)
	}
	return o
}

func utc(s string) time.Time {
	t, err := time.Parse("20060102T150405Z", s)
	if err != nil {
		panic(err)
	}
	return t
}

// rangeFilter is VCALENDAR > comp (time-range).
func rangeFilter(comp, start, end string) *Filter {
	r := &TimeRange{}
	if start != "" {
		r.Start = utc(start)
	}
	if end != "" {
		r.End = utc(end)
	}
	return &Filter{Comp: CompFilter{Name: "VCALENDAR", Comps: []CompFilter{{Name: comp, Range: r}}}}
}

func TestTimeRangeQueries(t *testing.T) {
	weekly := ics(event("w", "DTSTART:20240101T100000Z", "DTEND:20240101T110000Z", "RRULE:FREQ=WEEKLY")...)
	weeklyExdate := ics(event("w", "DTSTART:20240101T100000Z", "DTEND:20240101T110000Z", "RRULE:FREQ=WEEKLY", "EXDATE:20240115T100000Z")...)
	override := ics(append(
		event("o", "DTSTART:20240101T100000Z", "DTEND:20240101T110000Z", "RRULE:FREQ=WEEKLY;COUNT=10"),
		event("o", "RECURRENCE-ID:20240115T100000Z", "DTSTART:20240117T150000Z", "DTEND:20240117T160000Z")...)...)
	berlin := ics(append(vtz("Europe/Berlin"), event("b", "DTSTART;TZID=Europe/Berlin:20240108T090000",
		"DTEND;TZID=Europe/Berlin:20240108T100000", "RRULE:FREQ=WEEKLY;BYDAY=MO")...)...)
	custom := ics(append(vtz("My Own Berlin"), event("c", "DTSTART;TZID=My Own Berlin:20240108T090000",
		"DTEND;TZID=My Own Berlin:20240108T100000", "RRULE:FREQ=WEEKLY;BYDAY=MO")...)...)
	windows := ics(event("win", "DTSTART;TZID=W. Europe Standard Time:20240708T090000", "DURATION:PT1H")...)
	allDay := ics(event("d", "DTSTART;VALUE=DATE:20240305")...)
	allDayRecurring := ics(event("dr", "DTSTART;VALUE=DATE:20240101", "DTEND;VALUE=DATE:20240102", "RRULE:FREQ=YEARLY")...)
	tests := []struct {
		name   string
		data   string
		filter *Filter
		want   bool
	}{
		{"single inside", ics(event("s", "DTSTART:20240301T100000Z", "DTEND:20240301T110000Z")...), rangeFilter("VEVENT", "20240301T000000Z", "20240302T000000Z"), true},
		{"single ends at range start", ics(event("s", "DTSTART:20240301T100000Z", "DTEND:20240301T110000Z")...), rangeFilter("VEVENT", "20240301T110000Z", "20240302T000000Z"), false},
		{"single starts at range end", ics(event("s", "DTSTART:20240301T100000Z", "DTEND:20240301T110000Z")...), rangeFilter("VEVENT", "20240301T000000Z", "20240301T100000Z"), false},
		{"zero duration at range start", ics(event("s", "DTSTART:20240301T100000Z")...), rangeFilter("VEVENT", "20240301T100000Z", "20240301T110000Z"), true},
		{"open-ended range", ics(event("s", "DTSTART:20240301T100000Z")...), rangeFilter("VEVENT", "20240201T000000Z", ""), true},
		{"weekly occurrence far after DTSTART", weekly, rangeFilter("VEVENT", "20250106T093000Z", "20250106T103000Z"), true},
		{"weekly between occurrences", weekly, rangeFilter("VEVENT", "20240102T000000Z", "20240107T000000Z"), false},
		{"weekly before DTSTART", weekly, rangeFilter("VEVENT", "20231201T000000Z", "20231231T000000Z"), false},
		{"EXDATE removes the occurrence", weeklyExdate, rangeFilter("VEVENT", "20240115T000000Z", "20240116T000000Z"), false},
		{"EXDATE keeps the others", weeklyExdate, rangeFilter("VEVENT", "20240122T000000Z", "20240123T000000Z"), true},
		{"overridden instance moved away", override, rangeFilter("VEVENT", "20240115T000000Z", "20240116T000000Z"), false},
		{"override at its new time", override, rangeFilter("VEVENT", "20240117T000000Z", "20240118T000000Z"), true},
		{"COUNT ends the series", override, rangeFilter("VEVENT", "20240401T000000Z", "20240501T000000Z"), false},
		{"TZID winter is UTC+1", berlin, rangeFilter("VEVENT", "20240115T080000Z", "20240115T081500Z"), true},
		{"TZID summer is UTC+2", berlin, rangeFilter("VEVENT", "20240708T070000Z", "20240708T071500Z"), true},
		{"TZID summer not at UTC+1", berlin, rangeFilter("VEVENT", "20240708T083000Z", "20240708T090000Z"), false},
		{"custom VTIMEZONE summer", custom, rangeFilter("VEVENT", "20240708T070000Z", "20240708T071500Z"), true},
		{"custom VTIMEZONE winter", custom, rangeFilter("VEVENT", "20240115T080000Z", "20240115T081500Z"), true},
		{"custom VTIMEZONE not at UTC", custom, rangeFilter("VEVENT", "20240708T090000Z", "20240708T093000Z"), false},
		{"Windows zone name", windows, rangeFilter("VEVENT", "20240708T070000Z", "20240708T071500Z"), true},
		{"all-day covers the day", allDay, rangeFilter("VEVENT", "20240305T230000Z", "20240306T000000Z"), true},
		{"all-day not the next day", allDay, rangeFilter("VEVENT", "20240306T000000Z", "20240307T000000Z"), false},
		{"yearly all-day", allDayRecurring, rangeFilter("VEVENT", "20300101T120000Z", "20300101T130000Z"), true},
		{"wrong component", weekly, rangeFilter("VTODO", "20240101T000000Z", "20250101T000000Z"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := parse(t, tt.data)
			got, err := tt.filter.Match(o.Cal, UTC)
			if err != nil || got != tt.want {
				t.Errorf("Match = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestFloatingUsesCalendarZone(t *testing.T) {
	o := parse(t, ics(event("f", "DTSTART:20240708T090000", "DTEND:20240708T100000")...))
	f := rangeFilter("VEVENT", "20240708T070000Z", "20240708T071500Z")
	if got, _ := f.Match(o.Cal, UTC); got {
		t.Error("floating 09:00 matched 07:00Z in UTC")
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata")
	}
	if got, _ := f.Match(o.Cal, LocationZone(berlin)); !got {
		t.Error("floating 09:00 in Europe/Berlin did not match 07:00Z")
	}
}

func TestTodoAndAlarmRanges(t *testing.T) {
	todo := func(props ...string) string {
		lines := append([]string{"BEGIN:VTODO", "UID:t", "DTSTAMP:20240101T000000Z"}, props...)
		return ics(append(lines, "END:VTODO")...)
	}
	tests := []struct {
		name, data string
		filter     *Filter
		want       bool
	}{
		{"due only inside", todo("DUE:20240310T120000Z"), rangeFilter("VTODO", "20240310T000000Z", "20240311T000000Z"), true},
		{"due only outside", todo("DUE:20240310T120000Z"), rangeFilter("VTODO", "20240311T000000Z", "20240312T000000Z"), false},
		{"start and due", todo("DTSTART:20240301T000000Z", "DUE:20240310T000000Z"), rangeFilter("VTODO", "20240305T000000Z", "20240306T000000Z"), true},
		{"no dates matches", todo("SUMMARY:x"), rangeFilter("VTODO", "20240305T000000Z", "20240306T000000Z"), true},
		{"completed outside", todo("COMPLETED:20240101T000000Z"), rangeFilter("VTODO", "20240305T000000Z", "20240306T000000Z"), false},
		{"recurring todo", todo("DTSTART:20240101T090000Z", "DUE:20240101T100000Z", "RRULE:FREQ=DAILY"), rangeFilter("VTODO", "20240601T093000Z", "20240601T093100Z"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := parse(t, tt.data)
			if got, err := tt.filter.Match(o.Cal, UTC); err != nil || got != tt.want {
				t.Errorf("Match = %v, %v; want %v", got, err, tt.want)
			}
		})
	}

	alarmEvent := ics("BEGIN:VEVENT", "UID:a", "DTSTAMP:20240101T000000Z", "DTSTART:20240101T100000Z", "RRULE:FREQ=DAILY",
		"BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:x", "TRIGGER:-PT15M", "END:VALARM", "END:VEVENT")
	alarm := func(start, end string) *Filter {
		return &Filter{Comp: CompFilter{Name: "VCALENDAR", Comps: []CompFilter{{Name: "VEVENT", Comps: []CompFilter{
			{Name: "VALARM", Range: &TimeRange{Start: utc(start), End: utc(end)}}}}}}}
	}
	o := parse(t, alarmEvent)
	if got, err := alarm("20240305T094000Z", "20240305T095000Z").Match(o.Cal, UTC); err != nil || !got {
		t.Errorf("alarm 15 minutes before: %v, %v", got, err)
	}
	if got, err := alarm("20240305T095000Z", "20240305T100000Z").Match(o.Cal, UTC); err != nil || got {
		t.Errorf("no alarm in 09:50-10:00: %v, %v", got, err)
	}
}

func TestPropAndTextFilters(t *testing.T) {
	o := parse(t, ics(event("p", "DTSTART:20240301T100000Z", `SUMMARY:Team Meeting\, Room B`, "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.com")...))
	mk := func(pf PropFilter) *Filter {
		return &Filter{Comp: CompFilter{Name: "VCALENDAR", Comps: []CompFilter{{Name: "VEVENT", Props: []PropFilter{pf}}}}}
	}
	tests := []struct {
		name string
		pf   PropFilter
		want bool
	}{
		{"exists", PropFilter{Name: "SUMMARY"}, true},
		{"not defined", PropFilter{Name: "LOCATION", IsNotDefined: true}, true},
		{"defined but is-not-defined", PropFilter{Name: "SUMMARY", IsNotDefined: true}, false},
		{"ascii casemap", PropFilter{Name: "SUMMARY", Text: &TextMatch{Text: "meeting, room", Collation: DefaultCollation}}, true},
		{"octet is case sensitive", PropFilter{Name: "SUMMARY", Text: &TextMatch{Text: "meeting", Collation: "i;octet"}}, false},
		{"negated", PropFilter{Name: "SUMMARY", Text: &TextMatch{Text: "lunch", Collation: DefaultCollation, Negate: true}}, true},
		{"negated on missing property", PropFilter{Name: "LOCATION", Text: &TextMatch{Text: "x", Collation: DefaultCollation, Negate: true}}, false},
		{"param text", PropFilter{Name: "ATTENDEE", Params: []ParamFilter{{Name: "PARTSTAT", Text: &TextMatch{Text: "accepted", Collation: DefaultCollation}}}}, true},
		{"param missing", PropFilter{Name: "ATTENDEE", Params: []ParamFilter{{Name: "ROLE"}}}, false},
		{"prop time range", PropFilter{Name: "DTSTAMP", Range: &TimeRange{Start: utc("20231231T000000Z"), End: utc("20240102T000000Z")}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := mk(tt.pf).Match(o.Cal, UTC); err != nil || got != tt.want {
				t.Errorf("Match = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, data, cond string
	}{
		{"not iCalendar", "hello", CondValidData},
		{"no version", "BEGIN:VCALENDAR\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTART:20240101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", CondValidData},
		{"method", ics(append([]string{"METHOD:REQUEST"}, event("m", "DTSTART:20240101T000000Z")...)...), CondValidObject},
		{"two UIDs", ics(append(event("a", "DTSTART:20240101T000000Z"), event("b", "DTSTART:20240101T000000Z")...)...), CondValidObject},
		{"no UID", ics("BEGIN:VEVENT", "DTSTART:20240101T000000Z", "END:VEVENT"), CondValidObject},
		{"mixed components", ics(append(event("a", "DTSTART:20240101T000000Z"), "BEGIN:VTODO", "UID:a", "END:VTODO")...), CondValidObject},
		{"only a timezone", ics(vtz("X")...), CondValidObject},
		{"bad date", ics(event("a", "DTSTART:2024-01-01")...), CondValidData},
		{"no DTSTART", ics(event("a", "SUMMARY:x")...), CondValidObject},
		{"bad duration", ics(event("a", "DTSTART:20240101T000000Z", "DURATION:1H")...), CondValidData},
		{"bad rrule", ics(event("a", "DTSTART:20240101T000000Z", "RRULE:FREQ=SOMETIMES")...), CondValidData},
		{"sub-daily with BY parts", ics(event("a", "DTSTART:20240101T030000Z", "RRULE:FREQ=HOURLY;INTERVAL=24;BYHOUR=5")...), CondValidObject},
		{"rule without instances", ics(event("a", "DTSTART:20240101T030000Z", "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30")...), CondValidObject},
		{"two calendars", ics(event("a", "DTSTART:20240101T000000Z")...) + ics(event("a", "DTSTART:20240101T000000Z")...), CondValidObject},
		{"invalid UTF-8", ics(event("a", "DTSTART:20240101T000000Z", "SUMMARY:\xff")...), CondValidData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.data))
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Cond != tt.cond {
				t.Errorf("Parse err = %v, want precondition %s", err, tt.cond)
			}
		})
	}
}

func TestBounds(t *testing.T) {
	tests := []struct {
		name             string
		data             string
		start, end       string
		hasStart, hasEnd bool
	}{
		{"single", ics(event("s", "DTSTART:20240301T100000Z", "DTEND:20240301T110000Z")...), "20240301T100000Z", "20240301T110000Z", true, true},
		{"count", ics(event("c", "DTSTART:20240101T100000Z", "DURATION:PT1H", "RRULE:FREQ=DAILY;COUNT=3")...), "20240101T100000Z", "20240103T110000Z", true, true},
		{"forever", ics(event("f", "DTSTART:20240101T100000Z", "RRULE:FREQ=DAILY")...), "20240101T100000Z", "", true, false},
		{"override later than master", ics(append(event("o", "DTSTART:20240101T100000Z", "RRULE:FREQ=DAILY;COUNT=2"),
			event("o", "RECURRENCE-ID:20240102T100000Z", "DTSTART:20240301T100000Z")...)...), "20240101T100000Z", "20240301T100000Z", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, e, hs, he := parse(t, tt.data).Bounds()
			if hs != tt.hasStart || he != tt.hasEnd {
				t.Fatalf("Bounds has = %v, %v; want %v, %v", hs, he, tt.hasStart, tt.hasEnd)
			}
			if !s.Equal(utc(tt.start).Add(-boundsMargin)) {
				t.Errorf("start = %v, want %s - margin", s, tt.start)
			}
			if tt.hasEnd && !e.Equal(utc(tt.end).Add(boundsMargin)) {
				t.Errorf("end = %v, want %s + margin", e, tt.end)
			}
		})
	}
	todo := parse(t, ics("BEGIN:VTODO", "UID:t", "END:VTODO"))
	if _, _, hs, he := todo.Bounds(); hs || he {
		t.Error("to-do has bounds")
	}
}

func TestSubDailyFarFromStart(t *testing.T) {
	o := parse(t, ics(event("h", "DTSTART:20000101T001500Z", "DURATION:PT10M", "RRULE:FREQ=MINUTELY;INTERVAL=30")...))
	f := rangeFilter("VEVENT", "20240601T101600Z", "20240601T101700Z")
	start := time.Now()
	if got, err := f.Match(o.Cal, UTC); err != nil || !got {
		t.Errorf("Match = %v, %v; want true", got, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("sub-daily match took %v", d)
	}
	f = rangeFilter("VEVENT", "20240601T103000Z", "20240601T104000Z")
	if got, err := f.Match(o.Cal, UTC); err != nil || got {
		t.Errorf("gap between instances: Match = %v, %v; want false", got, err)
	}
}

func TestParseFilter(t *testing.T) {
	body := `<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav"><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">` +
		`<C:time-range start="20240101T000000Z" end="20240201T000000Z"/>` +
		`<C:prop-filter name="SUMMARY"><C:text-match collation="i;octet" negate-condition="yes">x</C:text-match></C:prop-filter>` +
		`</C:comp-filter></C:comp-filter></C:filter>`
	n, err := davxml.Parse(strings.NewReader(body), davxml.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFilter(n)
	if err != nil {
		t.Fatal(err)
	}
	ev := f.Comp.Comps[0]
	if ev.Name != "VEVENT" || ev.Range == nil || !ev.Range.Start.Equal(utc("20240101T000000Z")) ||
		ev.Props[0].Text == nil || !ev.Props[0].Text.Negate || ev.Props[0].Text.Collation != "i;octet" {
		t.Errorf("filter = %+v", f)
	}
	if f.Span() == nil {
		t.Error("Span() = nil")
	}
	bad := strings.Replace(body, "i;octet", "i;klingon", 1)
	n, _ = davxml.Parse(strings.NewReader(bad), davxml.DefaultLimits)
	var fe *FilterError
	if _, err := ParseFilter(n); !errors.As(err, &fe) || !fe.Collation {
		t.Errorf("unsupported collation: err = %v", err)
	}
}

func FuzzParseObject(f *testing.F) {
	f.Add(ics(event("w", "DTSTART;TZID=Europe/Berlin:20240101T100000", "RRULE:FREQ=WEEKLY;BYDAY=MO,WE", "EXDATE;TZID=Europe/Berlin:20240103T100000")...))
	f.Add(ics(append(vtz("Z"), event("z", "DTSTART;TZID=Z:20240101T100000", "DURATION:P1DT2H", "RDATE;VALUE=PERIOD:20240301T000000Z/PT1H")...)...))
	f.Add(ics("BEGIN:VTODO", "UID:t", "DUE;VALUE=DATE:20240101", "BEGIN:VALARM", "TRIGGER;RELATED=END:-P1D", "END:VALARM", "END:VTODO"))
	filter := rangeFilter("VEVENT", "20240101T000000Z", "20240201T000000Z")
	todoFilter := &Filter{Comp: CompFilter{Name: "VCALENDAR", Comps: []CompFilter{{Name: "VTODO", Range: &TimeRange{Start: utc("20240101T000000Z")},
		Comps: []CompFilter{{Name: "VALARM", Range: &TimeRange{End: utc("20250101T000000Z")}}}}}}}
	f.Fuzz(func(t *testing.T, data string) {
		o, err := Parse([]byte(data))
		if err != nil {
			return
		}
		o.Bounds()
		_, _ = filter.Match(o.Cal, UTC)
		_, _ = todoFilter.Match(o.Cal, UTC)
	})
}
