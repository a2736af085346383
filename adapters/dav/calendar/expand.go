package calendar

import (
	"bytes"
	"time"

	"github.com/emersion/go-ical"
)

const utcFormat = "20060102T150405Z"

// Expand rewrites a calendar object as CALDAV:expand asks (RFC 4791
// 9.6.5): every instance that overlaps r becomes its own component with
// a RECURRENCE-ID, recurrence properties are dropped, date-times are
// converted to UTC and VTIMEZONEs removed. If go-ical cannot encode the
// result (it insists on properties such as DTSTAMP), the data is
// returned unexpanded; clients expand such data themselves.
func Expand(raw []byte, r TimeRange, floating Zone) (string, error) {
	cal, err := Decode(raw)
	if err != nil {
		return "", err
	}
	e := &evaluator{z: newZones(cal.Component, floating)}
	overridden, err := e.overrides(cal.Component)
	if err != nil {
		return "", err
	}
	out := ical.NewCalendar()
	for name, props := range cal.Props {
		out.Props[name] = props
	}
	for _, c := range cal.Children {
		switch {
		case c.Name == ical.CompTimezone:
			continue
		case c.Name != ical.CompEvent && c.Name != ical.CompToDo && c.Name != ical.CompJournal:
			out.Children = append(out.Children, c)
		case !recurring(c):
			ok, err := e.timeRange(c, r, nil)
			if err != nil {
				return "", err
			}
			if ok {
				out.Children = append(out.Children, e.toUTC(c))
			}
		default:
			if err := e.expandMaster(out, c, r, overridden[uidOf(c)]); err != nil {
				return "", err
			}
		}
	}
	if len(out.Children) == 0 {
		return string(raw), nil
	}
	var b bytes.Buffer
	if err := ical.NewEncoder(&b).Encode(out); err != nil {
		return string(raw), nil
	}
	return b.String(), nil
}

func (e *evaluator) expandMaster(out *ical.Calendar, c *ical.Component, r TimeRange, skip map[int64]bool) error {
	t, err := e.z.timing(c)
	if err != nil {
		return err
	}
	return e.z.instances(c, skip, r.Start, r.End, func(in instance) bool {
		if !overlaps(c.Name, in, r) {
			return true
		}
		inst := e.toUTC(c)
		for _, p := range []string{ical.PropRecurrenceRule, ical.PropRecurrenceDates, ical.PropExceptionDates} {
			inst.Props.Del(p)
		}
		start := in.start
		if in.date {
			start = in.wall
		}
		setTime(inst, ical.PropRecurrenceID, start, in.date)
		if t.hasStart {
			setTime(inst, ical.PropDateTimeStart, start, in.date)
		}
		if t.hasEnd && inst.Props.Get(ical.PropDuration) == nil {
			endName := ical.PropDateTimeEnd
			if c.Name == ical.CompToDo {
				endName = ical.PropDue
			}
			end := in.end
			if in.date {
				end = in.wall.AddDate(0, 0, t.end.days)
			}
			setTime(inst, endName, end, in.date)
			if c.Name == ical.CompEvent && c.Props.Get(ical.PropDateTimeEnd) == nil {
				inst.Props.Del(ical.PropDateTimeEnd) // implicit end stays implicit
			}
		}
		out.Children = append(out.Children, inst)
		return true
	})
}

// toUTC copies c with its date-time properties converted to UTC.
func (e *evaluator) toUTC(c *ical.Component) *ical.Component {
	out := &ical.Component{Name: c.Name, Props: ical.Props{}, Children: c.Children}
	for name, props := range c.Props {
		cp := make([]ical.Prop, len(props))
		copy(cp, props)
		for i := range cp {
			switch name {
			case ical.PropDateTimeStart, ical.PropDateTimeEnd, ical.PropDue, ical.PropRecurrenceID:
				d, err := e.z.parseProp(&cp[i])
				if err != nil || d.date {
					continue
				}
				cp[i].Params = cloneParams(cp[i].Params)
				cp[i].Params.Del(ical.PropTimezoneID)
				cp[i].Value = d.instant().UTC().Format(utcFormat)
			}
		}
		out.Props[name] = cp
	}
	return out
}

func setTime(c *ical.Component, name string, t time.Time, date bool) {
	p := ical.NewProp(name)
	if date {
		p.Params.Set(ical.ParamValue, "DATE")
		p.Value = t.UTC().Format("20060102")
	} else {
		p.Value = t.UTC().Format(utcFormat)
	}
	c.Props.Set(p)
}

func cloneParams(p ical.Params) ical.Params {
	out := make(ical.Params, len(p))
	for k, v := range p {
		out[k] = append([]string(nil), v...)
	}
	return out
}
