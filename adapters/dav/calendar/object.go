package calendar

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav/caldav"
)

// CalDAV preconditions (RFC 4791 section 5.3.2.1) a ValidationError can
// name.
const (
	CondValidData      = "valid-calendar-data"
	CondValidObject    = "valid-calendar-object-resource"
	CondSupportedComp  = "supported-calendar-component"
	CondMaxResourceLen = "max-resource-size"
)

// ValidationError says why data cannot be stored as a calendar object
// resource, naming the CalDAV precondition to report.
type ValidationError struct {
	Cond string
	Msg  string
}

func (e *ValidationError) Error() string { return "calendar: " + e.Cond + ": " + e.Msg }

func invalid(cond, format string, a ...any) error {
	return &ValidationError{Cond: cond, Msg: fmt.Sprintf(format, a...)}
}

// Object is a parsed and validated calendar object resource.
type Object struct {
	Cal       *ical.Calendar
	UID       string
	Component string // VEVENT, VTODO, VJOURNAL or VFREEBUSY
}

// Decode parses data as an iCalendar stream holding exactly one
// VCALENDAR, without validating it as a calendar object resource.
//
// go-ical's decoder panics on some malformed parameter lists (found by
// FuzzParseObject, e.g. "0;0="); Decode turns such panics into
// valid-calendar-data errors.
func Decode(data []byte) (cal *ical.Calendar, err error) {
	defer func() {
		if r := recover(); r != nil {
			cal, err = nil, invalid(CondValidData, "malformed content line")
		}
	}()
	if !utf8.Valid(data) {
		return nil, invalid(CondValidData, "not UTF-8")
	}
	dec := ical.NewDecoder(bytes.NewReader(data))
	cal, err = dec.Decode()
	if err != nil {
		return nil, invalid(CondValidData, "%v", err)
	}
	if _, err := dec.Decode(); !errors.Is(err, io.EOF) {
		return nil, invalid(CondValidObject, "more than one VCALENDAR")
	}
	return cal, nil
}

// Parse decodes and validates a calendar object resource (RFC 4791
// section 4.1): one VCALENDAR with VERSION, no METHOD, components of one
// type sharing one UID, parseable dates, durations and recurrence rules.
func Parse(data []byte) (*Object, error) {
	cal, err := Decode(data)
	if err != nil {
		return nil, err
	}
	if cal.Name != ical.CompCalendar {
		return nil, invalid(CondValidData, "top-level component is %s, not VCALENDAR", cal.Name)
	}
	if v := cal.Props.Get(ical.PropVersion); v == nil || v.Value != "2.0" {
		return nil, invalid(CondValidData, "VERSION:2.0 is required")
	}
	comp, uid, err := caldav.ValidateCalendarObject(cal)
	if err != nil {
		return nil, invalid(CondValidObject, "%v", err)
	}
	if comp == "" {
		return nil, invalid(CondValidObject, "no calendar component")
	}
	if uid == "" {
		return nil, invalid(CondValidObject, "UID is required")
	}
	switch comp {
	case ical.CompEvent, ical.CompToDo, ical.CompJournal, ical.CompFreeBusy:
	default:
		return nil, invalid(CondSupportedComp, "component %s cannot be stored", comp)
	}
	o := &Object{Cal: cal, UID: uid, Component: comp}
	if err := o.checkTimes(); err != nil {
		return nil, err
	}
	return o, nil
}

// checkTimes parses every date, duration and rule so that queries never
// meet a value they cannot read, and refuses rules that cannot be
// expanded in bounded time.
func (o *Object) checkTimes() error {
	z := newZones(o.Cal.Component, UTC)
	for _, c := range o.Cal.Children {
		if c.Name == ical.CompTimezone {
			if _, err := newVTimezone(c); err != nil {
				return invalid(CondValidData, "VTIMEZONE: %v", err)
			}
			continue
		}
		if c.Name == ical.CompEvent && c.Props.Get(ical.PropDateTimeStart) == nil {
			return invalid(CondValidObject, "VEVENT without DTSTART")
		}
		if c.Props.Get(ical.PropDateTimeEnd) != nil && c.Props.Get(ical.PropDuration) != nil {
			return invalid(CondValidData, "%s has both DTEND and DURATION", c.Name)
		}
		for _, name := range []string{ical.PropDateTimeStart, ical.PropDateTimeEnd, ical.PropDue, ical.PropRecurrenceID} {
			if p := c.Props.Get(name); p != nil {
				if _, err := z.parseProp(p); err != nil {
					return invalid(CondValidData, "%v", err)
				}
			}
		}
		for _, name := range []string{ical.PropExceptionDates, ical.PropRecurrenceDates} {
			for i := range c.Props.Values(name) {
				if _, err := z.parseList(&c.Props[name][i]); err != nil {
					return invalid(CondValidData, "%v", err)
				}
			}
		}
		if p := c.Props.Get(ical.PropDuration); p != nil {
			if _, err := parseDuration(p.Value); err != nil {
				return invalid(CondValidData, "%v", err)
			}
		}
		if err := checkRule(z, c); err != nil {
			return err
		}
	}
	return nil
}

// checkRule refuses RRULEs that rrule-go rejects, that the expansion
// policy refuses, or that never produce an instance (rrule-go searches up
// to year 9999 for the first instance of such a rule, on every query).
func checkRule(z *zones, c *ical.Component) error {
	p := c.Props.Get(ical.PropRecurrenceRule)
	if p == nil {
		return nil
	}
	t, err := z.timing(c)
	if err != nil {
		return invalid(CondValidData, "%v", err)
	}
	if !t.hasBase {
		return invalid(CondValidObject, "RRULE without DTSTART")
	}
	next, err := z.ruleIterator(p.Value, t, time.Time{})
	if errors.Is(err, ErrRuleRefused) {
		return invalid(CondValidObject, "%v", err)
	} else if err != nil {
		return invalid(CondValidData, "%v", err)
	}
	if _, ok := next(); ok {
		return nil
	}
	opt, _, _ := parseRule(p.Value)
	if !opt.Until.IsZero() && opt.Until.Before(t.base.wall.Add(24*time.Hour)) {
		return nil // UNTIL before DTSTART: only the DTSTART instance
	}
	return invalid(CondValidObject, "%v: RRULE %q produces no instance", ErrRuleRefused, p.Value)
}

// boundsMargin widens bounds for floating times, which a later
// calendar-timezone can move by up to 14 hours either way.
const boundsMargin = 15 * time.Hour

// Bounds returns the earliest start and latest end over all instances of
// the object's events, for skipping objects in time-range queries.
// To-dos, journals and free-busy objects have no bounds (hasStart and
// hasEnd false); so has an event that recurs forever on its end side.
func (o *Object) Bounds() (start, end time.Time, hasStart, hasEnd bool) {
	if o.Component != ical.CompEvent {
		return time.Time{}, time.Time{}, false, false
	}
	z := newZones(o.Cal.Component, UTC)
	hasStart, hasEnd = true, true
	first := true
	for _, c := range o.Cal.Children {
		if c.Name != ical.CompEvent {
			continue
		}
		if p := c.Props.Get(ical.PropRecurrenceRule); p != nil {
			if opt, _, err := parseRule(p.Value); err != nil || (opt.Count == 0 && opt.Until.IsZero()) {
				hasEnd = false
			}
		}
		err := z.instances(c, nil, time.Time{}, time.Time{}, func(in instance) bool {
			if first || in.start.Before(start) {
				start = in.start
			}
			if first || in.end.After(end) {
				end = in.end
			}
			first = false
			return hasEnd // with an open end, the first instance is all we need
		})
		if err != nil {
			hasEnd = false
		}
	}
	if first {
		return time.Time{}, time.Time{}, false, false
	}
	return start.Add(-boundsMargin), end.Add(boundsMargin), hasStart, hasEnd
}
