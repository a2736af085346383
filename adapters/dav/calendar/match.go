package calendar

import (
	"errors"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"github.com/mycelium-go/mycelium/adapters/dav/collation"
)

// Match reports whether the calendar object cal matches f. Floating
// times and dates are read in the floating zone (the collection's
// calendar-timezone, or UTC). An object whose recurrence is too large to
// evaluate is reported as matching (false positives are harmless to a
// client; false negatives lose events); other errors are returned with
// false.
func (f *Filter) Match(cal *ical.Calendar, floating Zone) (bool, error) {
	if cal == nil || cal.Component == nil || cal.Name != ical.CompCalendar {
		return false, nil
	}
	e := &evaluator{z: newZones(cal.Component, floating)}
	ok, err := e.compMatches(f.Comp, cal.Component, nil)
	if errors.Is(err, errTooMany) {
		return true, nil
	}
	return ok, err
}

type evaluator struct {
	z *zones
}

// scope is what a component's time range depends on besides itself:
// the recurrence ids overridden by siblings (for a master) and, for a
// VALARM, the component that owns it.
type scope struct {
	skip   map[int64]bool
	parent *ical.Component
	pscope *scope
}

func (e *evaluator) compMatches(cf CompFilter, c *ical.Component, sc *scope) (bool, error) {
	if cf.Range != nil {
		ok, err := e.timeRange(c, *cf.Range, sc)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, pf := range cf.Props {
		ok, err := e.propMatches(pf, c)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, child := range cf.Comps {
		ok, err := e.childMatches(child, c, sc)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// childMatches evaluates a comp-filter against the children of parent.
func (e *evaluator) childMatches(cf CompFilter, parent *ical.Component, psc *scope) (bool, error) {
	var overridden map[string]map[int64]bool
	found := false
	for _, c := range parent.Children {
		if c.Name != cf.Name {
			continue
		}
		found = true
		if cf.IsNotDefined {
			return false, nil
		}
		sc := &scope{parent: parent, pscope: psc}
		if recurring(c) {
			if overridden == nil {
				var err error
				if overridden, err = e.overrides(parent); err != nil {
					return false, err
				}
			}
			sc.skip = overridden[uidOf(c)]
		}
		ok, err := e.compMatches(cf, c, sc)
		if err != nil && !errors.Is(err, errTooMany) {
			return false, err
		}
		if ok || errors.Is(err, errTooMany) {
			return true, err
		}
	}
	return cf.IsNotDefined && !found, nil
}

func uidOf(c *ical.Component) string {
	if p := c.Props.Get(ical.PropUID); p != nil {
		return p.Value
	}
	return ""
}

// overrides maps each UID to the recurrence ids its overriding
// components (those with RECURRENCE-ID) replace.
func (e *evaluator) overrides(parent *ical.Component) (map[string]map[int64]bool, error) {
	out := map[string]map[int64]bool{}
	for _, c := range parent.Children {
		rid := c.Props.Get(ical.PropRecurrenceID)
		if rid == nil {
			continue
		}
		d, err := e.z.parseProp(rid)
		if err != nil {
			return nil, err
		}
		uid := uidOf(c)
		if out[uid] == nil {
			out[uid] = map[int64]bool{}
		}
		out[uid][d.instant().Unix()] = true
	}
	return out, nil
}

// timeRange applies RFC 4791 section 9.9 to component c.
func (e *evaluator) timeRange(c *ical.Component, r TimeRange, sc *scope) (bool, error) {
	switch c.Name {
	case ical.CompEvent, ical.CompToDo, ical.CompJournal:
		if c.Name == ical.CompToDo {
			if ok, decided, err := e.todoWithoutDates(c, r); decided || err != nil {
				return ok, err
			}
		}
		var skip map[int64]bool
		if sc != nil {
			skip = sc.skip
		}
		match := false
		err := e.z.instances(c, skip, r.Start, r.End, func(in instance) bool {
			match = overlaps(c.Name, in, r)
			return !match
		})
		return match, err
	case ical.CompAlarm:
		return e.alarmInRange(c, r, sc)
	case ical.CompFreeBusy:
		return e.freeBusyInRange(c, r)
	}
	return false, nil
}

func before(a, b time.Time) bool { return a.Before(b) }

// overlaps is the table of RFC 4791 section 9.9 for one instance; a zero
// bound of r is unbounded.
func overlaps(comp string, in instance, r TimeRange) bool {
	startLT := func(t time.Time) bool { return r.Start.IsZero() || before(r.Start, t) }  // start < t
	startLE := func(t time.Time) bool { return r.Start.IsZero() || !before(t, r.Start) } // start <= t
	endGT := func(t time.Time) bool { return r.End.IsZero() || before(t, r.End) }        // end > t
	endGE := func(t time.Time) bool { return r.End.IsZero() || !before(r.End, t) }       // end >= t
	switch comp {
	case ical.CompEvent:
		if in.end.After(in.start) {
			return startLT(in.end) && endGT(in.start)
		}
		return startLE(in.start) && endGT(in.start)
	case ical.CompToDo:
		switch {
		case in.hasStart && in.hasEnd:
			return (startLT(in.end) || startLE(in.start)) && (endGT(in.start) || endGE(in.end))
		case in.hasStart:
			return startLE(in.start) && endGT(in.start)
		default: // DUE only
			return startLT(in.end) && endGE(in.end)
		}
	case ical.CompJournal:
		if in.date {
			return startLT(in.start.Add(24*time.Hour)) && endGT(in.start)
		}
		return startLE(in.start) && endGT(in.start)
	}
	return false
}

// todoWithoutDates handles the rows of the VTODO table that use
// COMPLETED and CREATED (to-dos without DTSTART and DUE).
func (e *evaluator) todoWithoutDates(c *ical.Component, r TimeRange) (ok, decided bool, err error) {
	if c.Props.Get(ical.PropDateTimeStart) != nil || c.Props.Get(ical.PropDue) != nil {
		return false, false, nil
	}
	get := func(name string) (time.Time, bool, error) {
		p := c.Props.Get(name)
		if p == nil {
			return time.Time{}, false, nil
		}
		d, err := e.z.parseProp(p)
		if err != nil {
			return time.Time{}, false, err
		}
		return d.instant(), true, nil
	}
	completed, hasCompleted, err := get(ical.PropCompleted)
	if err != nil {
		return false, true, err
	}
	created, hasCreated, err := get(ical.PropCreated)
	if err != nil {
		return false, true, err
	}
	le := func(a, b time.Time) bool { return a.IsZero() || !b.Before(a) } // a <= b, zero a = -inf
	ge := func(a, b time.Time) bool { return a.IsZero() || !a.Before(b) } // a >= b, zero a = +inf
	switch {
	case hasCompleted && hasCreated:
		return (le(r.Start, created) || le(r.Start, completed)) && (ge(r.End, created) || ge(r.End, completed)), true, nil
	case hasCompleted:
		return le(r.Start, completed) && ge(r.End, completed), true, nil
	case hasCreated:
		return r.End.IsZero() || r.End.After(created), true, nil
	}
	return true, true, nil
}

// alarmInRange reports whether any trigger of the alarm, for any
// instance of the component that owns it, falls in r.
func (e *evaluator) alarmInRange(c *ical.Component, r TimeRange, sc *scope) (bool, error) {
	trig := c.Props.Get(ical.PropTrigger)
	if trig == nil || sc == nil || sc.parent == nil {
		return false, nil
	}
	in := func(t time.Time) bool {
		return (r.Start.IsZero() || !t.Before(r.Start)) && (r.End.IsZero() || t.Before(r.End))
	}
	repeats, every := 0, time.Duration(0)
	if p := c.Props.Get(ical.PropRepeat); p != nil {
		if n, err := p.Int(); err == nil && n > 0 && n < 1000 {
			if d := c.Props.Get(ical.PropDuration); d != nil {
				if o, err := parseDuration(d.Value); err == nil {
					repeats, every = n, o.exact+time.Duration(o.days)*24*time.Hour
				}
			}
		}
	}
	fires := func(t time.Time) bool {
		for i := 0; i <= repeats; i++ {
			if in(t.Add(time.Duration(i) * every)) {
				return true
			}
		}
		return false
	}
	if strings.EqualFold(trig.Params.Get(ical.ParamValue), "DATE-TIME") || !strings.HasPrefix(strings.TrimLeft(strings.ToUpper(trig.Value), "+-"), "P") {
		d, err := e.z.parseProp(trig)
		if err != nil {
			return false, err
		}
		return fires(d.instant()), nil
	}
	o, err := parseDuration(trig.Value)
	if err != nil {
		return false, err
	}
	rel := o.exact + time.Duration(o.days)*24*time.Hour
	relEnd := strings.EqualFold(trig.Params.Get(ical.ParamRelated), "END")
	until := r.End
	if !until.IsZero() && rel < 0 {
		until = until.Add(-rel)
	}
	var skip map[int64]bool
	if sc.pscope != nil {
		skip = sc.pscope.skip
	}
	match := false
	err = e.z.instances(sc.parent, skip, time.Time{}, until, func(i instance) bool {
		base := i.start
		if relEnd {
			base = i.end
		}
		match = fires(base.Add(rel))
		return !match
	})
	return match, err
}

func (e *evaluator) freeBusyInRange(c *ical.Component, r TimeRange) (bool, error) {
	t, err := e.z.timing(c)
	if err != nil {
		return false, err
	}
	if t.hasStart && t.hasEnd {
		return overlaps(ical.CompEvent, t.at(t.base), r), nil
	}
	for _, p := range c.Props.Values(ical.PropFreeBusy) {
		for _, period := range strings.Split(p.Value, ",") {
			s, rest, ok := strings.Cut(period, "/")
			if !ok {
				continue
			}
			start, _, err := parseWall(s)
			if err != nil {
				return false, err
			}
			var end time.Time
			if strings.HasPrefix(strings.TrimLeft(rest, "+-"), "P") {
				o, err := parseDuration(rest)
				if err != nil {
					return false, err
				}
				end = start.AddDate(0, 0, o.days).Add(o.exact)
			} else if end, _, err = parseWall(rest); err != nil {
				return false, err
			}
			if overlaps(ical.CompEvent, instance{start: start, end: end, hasStart: true, hasEnd: true}, r) {
				return true, nil
			}
		}
	}
	return false, nil
}

func (e *evaluator) propMatches(pf PropFilter, c *ical.Component) (bool, error) {
	props := c.Props.Values(pf.Name)
	if pf.IsNotDefined {
		return len(props) == 0, nil
	}
	for i := range props {
		ok, err := e.onePropMatches(pf, &props[i])
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

func (e *evaluator) onePropMatches(pf PropFilter, p *ical.Prop) (bool, error) {
	if pf.Range != nil {
		d, err := e.z.parseProp(p)
		if err != nil {
			return false, nil // not a date-time property: no match
		}
		t := d.instant()
		if (!pf.Range.Start.IsZero() && t.Before(pf.Range.Start)) || (!pf.Range.End.IsZero() && !t.Before(pf.Range.End)) {
			return false, nil
		}
	}
	if pf.Text != nil {
		ok, err := textMatches(*pf.Text, unescapeText(p.Value))
		if err != nil || !ok {
			return false, err
		}
	}
	for _, parf := range pf.Params {
		vals := p.Params.Values(parf.Name)
		if parf.IsNotDefined {
			if len(vals) > 0 {
				return false, nil
			}
			continue
		}
		if len(vals) == 0 {
			return false, nil
		}
		if parf.Text != nil {
			any := false
			for _, v := range vals {
				ok, err := textMatches(*parf.Text, v)
				if err != nil {
					return false, err
				}
				any = any || ok
			}
			if !any {
				return false, nil
			}
		}
	}
	return true, nil
}

func textMatches(t TextMatch, value string) (bool, error) {
	ok, err := collation.Match(t.Collation, collation.Contains, value, t.Text)
	if err != nil {
		return false, err
	}
	return ok != t.Negate, nil
}

var textUnescaper = strings.NewReplacer(`\\`, `\`, `\;`, `;`, `\,`, `,`, `\n`, "\n", `\N`, "\n")

func unescapeText(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	return textUnescaper.Replace(v)
}
