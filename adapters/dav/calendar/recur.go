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

// maxIterations bounds the recurrence candidates examined per component
// and query; beyond it the evaluation gives up (errTooMany) and callers
// treat the component as matching, which is the safe answer for a
// filter.
const maxIterations = 500_000

var errTooMany = errors.New("calendar: too many recurrence instances")

// offset is a duration made of nominal days (wall clock) and an exact
// part.
type offset struct {
	days  int
	exact time.Duration
}

func (o offset) from(d dateTime) time.Time {
	if o.days != 0 {
		return d.zone.Instant(d.wall.AddDate(0, 0, o.days)).Add(o.exact)
	}
	return d.instant().Add(o.exact)
}

// timing is the time shape of one component.
type timing struct {
	base     dateTime // DTSTART, or DUE for a to-do without DTSTART
	hasBase  bool
	hasStart bool // base is a DTSTART
	hasEnd   bool
	end      offset // end (DTEND, DUE or from DURATION) relative to base
}

// instance is one occurrence of a component.
type instance struct {
	start, end       time.Time // instants; start is the base (see timing)
	wall             time.Time // wall clock of start in the base zone
	hasStart, hasEnd bool
	date             bool
	key              int64 // recurrence id: Unix time of the original start
}

func (z *zones) timing(c *ical.Component) (timing, error) {
	var t timing
	start, due, end := c.Props.Get(ical.PropDateTimeStart), c.Props.Get(ical.PropDue), c.Props.Get(ical.PropDateTimeEnd)
	if c.Name == ical.CompToDo {
		end = due
	}
	if start != nil {
		d, err := z.parseProp(start)
		if err != nil {
			return t, err
		}
		t.base, t.hasBase, t.hasStart = d, true, true
	}
	switch {
	case end != nil && t.hasStart:
		e, err := z.parseProp(end)
		if err != nil {
			return t, err
		}
		t.hasEnd = true
		if e.date && t.base.date {
			t.end = offset{days: int(e.wall.Sub(t.base.wall).Hours() / 24)}
		} else {
			t.end = offset{exact: e.instant().Sub(t.base.instant())}
		}
	case end != nil:
		e, err := z.parseProp(end)
		if err != nil {
			return t, err
		}
		t.base, t.hasBase, t.hasEnd = e, true, true
	case c.Props.Get(ical.PropDuration) != nil && t.hasStart:
		o, err := parseDuration(c.Props.Get(ical.PropDuration).Value)
		if err != nil {
			return t, err
		}
		t.hasEnd, t.end = true, o
	case t.hasStart && t.base.date && c.Name == ical.CompEvent:
		t.hasEnd, t.end = true, offset{days: 1}
	case t.hasStart && c.Name == ical.CompEvent:
		t.hasEnd = true // zero duration
	}
	return t, nil
}

func (t timing) at(d dateTime) instance {
	in := instance{start: d.instant(), wall: d.wall, hasStart: t.hasStart, hasEnd: t.hasEnd, date: d.date}
	in.key = in.start.Unix()
	in.end = in.start
	if t.hasEnd {
		in.end = t.end.from(d)
	}
	return in
}

// recurring reports whether c has a recurrence rule or dates.
func recurring(c *ical.Component) bool {
	return c.Props.Get(ical.PropRecurrenceRule) != nil || c.Props.Get(ical.PropRecurrenceDates) != nil
}

// instances calls fn for each instance of c in start order: the DTSTART
// instance, the RRULE and RDATE instances, minus EXDATEs and the
// recurrence ids in skip (overridden instances). It stops when fn
// returns false or when an instance starts after until (zero: never).
// from is a hint that instances ending before it are not needed.
func (z *zones) instances(c *ical.Component, skip map[int64]bool, from, until time.Time, fn func(instance) bool) error {
	t, err := z.timing(c)
	if err != nil {
		return err
	}
	if !t.hasBase {
		return nil
	}
	if !recurring(c) {
		fn(t.at(t.base))
		return nil
	}
	excluded, err := z.exdates(c)
	if err != nil {
		return err
	}
	walls, err := z.recurrenceWalls(c, t, from)
	if err != nil {
		return err
	}
	var last time.Time
	for i := 0; ; i++ {
		if i > maxIterations {
			return errTooMany
		}
		wall, ok := walls()
		if !ok {
			return nil
		}
		if !last.IsZero() && !wall.After(last) {
			continue // duplicate of DTSTART or an RDATE
		}
		last = wall
		d := t.base
		d.wall = wall
		in := t.at(d)
		if !until.IsZero() && in.start.After(until) {
			return nil
		}
		if excluded[in.key] || excluded[dateKey(wall)] && d.date || skip[in.key] {
			continue
		}
		if !fn(in) {
			return nil
		}
	}
}

func dateKey(wall time.Time) int64 {
	y, m, d := wall.Date()
	return -time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() - 1 // distinct from instant keys
}

// exdates returns the excluded instances keyed by instant, and by date
// (dateKey) for DATE values.
func (z *zones) exdates(c *ical.Component) (map[int64]bool, error) {
	out := map[int64]bool{}
	for i := range c.Props.Values(ical.PropExceptionDates) {
		p := &c.Props[ical.PropExceptionDates][i]
		list, err := z.parseList(p)
		if err != nil {
			return nil, err
		}
		for _, d := range list {
			if d.date {
				out[dateKey(d.wall)] = true
			}
			out[d.instant().Unix()] = true
		}
	}
	return out, nil
}

// recurrenceWalls returns an iterator over the wall-clock starts of c in
// order: DTSTART merged with the RRULE and RDATE values.
func (z *zones) recurrenceWalls(c *ical.Component, t timing, from time.Time) (func() (time.Time, bool), error) {
	var rdates []time.Time
	for i := range c.Props.Values(ical.PropRecurrenceDates) {
		p := &c.Props[ical.PropRecurrenceDates][i]
		list, err := z.parseList(p)
		if err != nil {
			return nil, err
		}
		for _, d := range list {
			// Convert through the instant so RDATEs in another zone land
			// on the base zone's wall clock.
			rdates = append(rdates, t.base.zone.Wall(d.instant()))
		}
	}
	rdates = append(rdates, t.base.wall)
	sort.Slice(rdates, func(i, j int) bool { return rdates[i].Before(rdates[j]) })
	rule := func() (time.Time, bool) { return time.Time{}, false }
	if p := c.Props.Get(ical.PropRecurrenceRule); p != nil {
		next, err := z.ruleIterator(p.Value, t, from)
		if err != nil {
			return nil, err
		}
		rule = next
	}
	ruleNext, ruleOK := rule()
	return func() (time.Time, bool) {
		switch {
		case len(rdates) > 0 && (!ruleOK || !ruleNext.Before(rdates[0])):
			w := rdates[0]
			rdates = rdates[1:]
			return w, true
		case ruleOK:
			w := ruleNext
			ruleNext, ruleOK = rule()
			return w, true
		}
		return time.Time{}, false
	}, nil
}

func (z *zones) ruleIterator(value string, t timing, from time.Time) (func() (time.Time, bool), error) {
	opt, info, err := parseRule(value)
	if err != nil {
		return nil, err
	}
	opt.Dtstart = t.base.wall
	switch {
	case opt.Until.IsZero():
	case info.untilUTC:
		opt.Until = t.base.zone.Wall(opt.Until)
	case info.untilDate && !t.base.date:
		opt.Until = opt.Until.Add(24*time.Hour - time.Second)
	}
	if opt.Freq > rrule.DAILY && opt.Count == 0 && !from.IsZero() {
		opt.Dtstart = skipAhead(opt, t, from)
	}
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, fmt.Errorf("calendar: RRULE: %w", err)
	}
	return r.Iterator(), nil
}

// skipAhead moves the start of a sub-daily rule without COUNT (and, by
// parseRule's policy, without BYxxx parts) forward by whole periods to
// shortly before from, so that a query far after DTSTART does not walk
// through millions of instances.
func skipAhead(opt *rrule.ROption, t timing, from time.Time) time.Time {
	unit := map[rrule.Frequency]time.Duration{rrule.HOURLY: time.Hour, rrule.MINUTELY: time.Minute, rrule.SECONDLY: time.Second}[opt.Freq]
	interval := opt.Interval
	if interval < 1 {
		interval = 1
	}
	period := unit * time.Duration(interval)
	span := t.end.exact + time.Duration(t.end.days)*24*time.Hour
	gap := t.base.zone.Wall(from).Sub(opt.Dtstart) - span - 2*period
	if gap <= 0 || period <= 0 {
		return opt.Dtstart
	}
	return opt.Dtstart.Add(gap / period * period)
}

// parseDuration parses an iCalendar DURATION: [+-]P[nW] or
// [+-]P[nD][T[nH][nM][nS]].
func parseDuration(v string) (offset, error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if !strings.HasPrefix(s, "P") || len(s) < 3 {
		return offset{}, fmt.Errorf("calendar: bad duration %q", v)
	}
	s = s[1:]
	var (
		o      offset
		inTime bool
		num    string
		parts  int
	)
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			num += string(r)
			if len(num) > 9 {
				return offset{}, fmt.Errorf("calendar: bad duration %q", v)
			}
			continue
		case r == 'T' && !inTime && num == "":
			inTime = true
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			return offset{}, fmt.Errorf("calendar: bad duration %q", v)
		}
		num = ""
		parts++
		switch {
		case r == 'W' && !inTime:
			o.days += 7 * n
		case r == 'D' && !inTime:
			o.days += n
		case r == 'H' && inTime:
			o.exact += time.Duration(n) * time.Hour
		case r == 'M' && inTime:
			o.exact += time.Duration(n) * time.Minute
		case r == 'S' && inTime:
			o.exact += time.Duration(n) * time.Second
		default:
			return offset{}, fmt.Errorf("calendar: bad duration %q", v)
		}
	}
	if num != "" || parts == 0 {
		return offset{}, fmt.Errorf("calendar: bad duration %q", v)
	}
	if neg {
		o.days, o.exact = -o.days, -o.exact
	}
	return o, nil
}
