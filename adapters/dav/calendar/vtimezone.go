package calendar

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// vtimezone is a Zone built from the STANDARD and DAYLIGHT observances
// of a VTIMEZONE component, for TZIDs that are not IANA names.
type vtimezone struct {
	trans []transition // sorted by instant
	first int          // offset before the first transition, seconds
}

type transition struct {
	at     time.Time // instant of the change
	offset int       // UTC offset after it, seconds
}

// Observance onsets are generated up to this year; later instants use
// the last transition.
const (
	vtzHorizonYear     = 2200
	vtzMaxTransitions  = 2000
	vtzMaxObservations = 64
)

func newVTimezone(c *ical.Component) (*vtimezone, error) {
	z := &vtimezone{}
	earliest := time.Time{}
	obs := 0
	for _, o := range c.Children {
		if o.Name != ical.CompTimezoneStandard && o.Name != ical.CompTimezoneDaylight {
			continue
		}
		if obs++; obs > vtzMaxObservations {
			return nil, errors.New("calendar: VTIMEZONE has too many observances")
		}
		from, err := parseOffset(o.Props.Get(ical.PropTimezoneOffsetFrom))
		if err != nil {
			return nil, err
		}
		to, err := parseOffset(o.Props.Get(ical.PropTimezoneOffsetTo))
		if err != nil {
			return nil, err
		}
		onsets, err := observanceOnsets(o, from)
		if err != nil {
			return nil, err
		}
		for _, wall := range onsets {
			at := wall.Add(-time.Duration(from) * time.Second)
			z.trans = append(z.trans, transition{at: at, offset: to})
			if earliest.IsZero() || at.Before(earliest) {
				earliest, z.first = at, from
			}
		}
	}
	if len(z.trans) == 0 {
		return nil, errors.New("calendar: VTIMEZONE without observances")
	}
	sort.Slice(z.trans, func(i, j int) bool { return z.trans[i].at.Before(z.trans[j].at) })
	return z, nil
}

// observanceOnsets lists the wall-clock onsets of one observance.
func observanceOnsets(o *ical.Component, from int) ([]time.Time, error) {
	start := o.Props.Get(ical.PropDateTimeStart)
	if start == nil {
		return nil, errors.New("calendar: observance without DTSTART")
	}
	wall, _, err := parseWall(start.Value)
	if err != nil {
		return nil, err
	}
	out := []time.Time{wall}
	for _, rd := range o.Props.Values(ical.PropRecurrenceDates) {
		for _, v := range strings.Split(rd.Value, ",") {
			w, _, err := parseWall(strings.SplitN(v, "/", 2)[0])
			if err == nil {
				out = append(out, w)
			}
		}
	}
	if rr := o.Props.Get(ical.PropRecurrenceRule); rr != nil {
		opt, info, err := parseRule(rr.Value)
		if err != nil {
			return nil, err
		}
		opt.Dtstart = wall
		if info.untilUTC {
			opt.Until = opt.Until.Add(time.Duration(from) * time.Second)
		}
		r, err := rrule.NewRRule(*opt)
		if err != nil {
			return nil, fmt.Errorf("calendar: observance RRULE: %w", err)
		}
		horizon := time.Date(vtzHorizonYear, 1, 1, 0, 0, 0, 0, time.UTC)
		next := r.Iterator()
		for i := 0; i < vtzMaxTransitions; i++ {
			t, ok := next()
			if !ok || t.After(horizon) {
				break
			}
			out = append(out, t)
		}
	}
	return out, nil
}

func (z *vtimezone) offsetAt(t time.Time) int {
	i := sort.Search(len(z.trans), func(i int) bool { return z.trans[i].at.After(t) })
	if i == 0 {
		return z.first
	}
	return z.trans[i-1].offset
}

func (z *vtimezone) Wall(t time.Time) time.Time {
	return t.UTC().Add(time.Duration(z.offsetAt(t)) * time.Second)
}

func (z *vtimezone) Instant(wall time.Time) time.Time {
	guess := wall.Add(-time.Duration(z.offsetAt(wall)) * time.Second)
	return wall.Add(-time.Duration(z.offsetAt(guess)) * time.Second)
}

// parseOffset parses a UTC-OFFSET value: +HHMM or +HHMMSS.
func parseOffset(p *ical.Prop) (int, error) {
	if p == nil {
		return 0, errors.New("calendar: observance without TZOFFSETFROM/TZOFFSETTO")
	}
	v := strings.TrimSpace(p.Value)
	if len(v) != 5 && len(v) != 7 || (v[0] != '+' && v[0] != '-') {
		return 0, fmt.Errorf("calendar: bad UTC offset %q", v)
	}
	n := 0
	for i, unit := 1, 3600; i < len(v); i, unit = i+2, unit/60 {
		d, err := strconv.Atoi(v[i : i+2])
		if err != nil || d < 0 || d > 59 {
			return 0, fmt.Errorf("calendar: bad UTC offset %q", v)
		}
		n += d * unit
	}
	if v[0] == '-' {
		n = -n
	}
	return n, nil
}
