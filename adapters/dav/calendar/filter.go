package calendar

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mycelium-go/mycelium/adapters/dav/collation"
	"github.com/mycelium-go/mycelium/adapters/dav/davxml"
)

// Filter is the CALDAV:filter of a calendar-query (RFC 4791 9.7).
type Filter struct {
	Comp CompFilter // always VCALENDAR
}

// CompFilter is a CALDAV:comp-filter.
type CompFilter struct {
	Name         string
	IsNotDefined bool
	Range        *TimeRange
	Props        []PropFilter
	Comps        []CompFilter
}

// PropFilter is a CALDAV:prop-filter.
type PropFilter struct {
	Name         string
	IsNotDefined bool
	Range        *TimeRange
	Text         *TextMatch
	Params       []ParamFilter
}

// ParamFilter is a CALDAV:param-filter.
type ParamFilter struct {
	Name         string
	IsNotDefined bool
	Text         *TextMatch
}

// TextMatch is a CALDAV:text-match (substring match).
type TextMatch struct {
	Text      string
	Collation string
	Negate    bool
}

// TimeRange is a CALDAV:time-range; a zero bound is unbounded.
type TimeRange struct {
	Start, End time.Time
}

// FilterError is a filter the server cannot evaluate; Collation is set
// when the reason is an unsupported collation (CALDAV:supported-collation).
type FilterError struct {
	Msg       string
	Collation bool
}

func (e *FilterError) Error() string { return "calendar: invalid filter: " + e.Msg }

func filterErr(format string, a ...any) error {
	return &FilterError{Msg: fmt.Sprintf(format, a...)}
}

// DefaultCollation is the CalDAV default for text-match.
const DefaultCollation = collation.ASCIICasemap

const maxFilterDepth = 8

// ParseFilter interprets a CALDAV:filter element.
func ParseFilter(n *davxml.Node) (*Filter, error) {
	if n == nil || !n.Is(davxml.NSCalDAV, "filter") {
		return nil, filterErr("missing CALDAV:filter")
	}
	cfs := n.All(davxml.NSCalDAV, "comp-filter")
	if len(cfs) != 1 {
		return nil, filterErr("filter needs exactly one comp-filter")
	}
	cf, err := parseCompFilter(cfs[0], 0)
	if err != nil {
		return nil, err
	}
	if cf.Name != "VCALENDAR" {
		return nil, filterErr("top-level comp-filter must be VCALENDAR, not %q", cf.Name)
	}
	return &Filter{Comp: cf}, nil
}

func parseCompFilter(n *davxml.Node, depth int) (CompFilter, error) {
	if depth > maxFilterDepth {
		return CompFilter{}, filterErr("comp-filter nested too deeply")
	}
	name, ok := n.Attribute("name")
	if !ok || name == "" {
		return CompFilter{}, filterErr("comp-filter without name")
	}
	cf := CompFilter{Name: strings.ToUpper(name)}
	if n.Child(davxml.NSCalDAV, "is-not-defined") != nil {
		cf.IsNotDefined = true
		return cf, nil
	}
	if tr := n.Child(davxml.NSCalDAV, "time-range"); tr != nil {
		r, err := parseTimeRange(tr)
		if err != nil {
			return cf, err
		}
		cf.Range = r
	}
	for _, p := range n.All(davxml.NSCalDAV, "prop-filter") {
		pf, err := parsePropFilter(p)
		if err != nil {
			return cf, err
		}
		cf.Props = append(cf.Props, pf)
	}
	for _, c := range n.All(davxml.NSCalDAV, "comp-filter") {
		child, err := parseCompFilter(c, depth+1)
		if err != nil {
			return cf, err
		}
		cf.Comps = append(cf.Comps, child)
	}
	return cf, nil
}

func parsePropFilter(n *davxml.Node) (PropFilter, error) {
	name, ok := n.Attribute("name")
	if !ok || name == "" {
		return PropFilter{}, filterErr("prop-filter without name")
	}
	pf := PropFilter{Name: strings.ToUpper(name)}
	if n.Child(davxml.NSCalDAV, "is-not-defined") != nil {
		pf.IsNotDefined = true
		return pf, nil
	}
	if tr := n.Child(davxml.NSCalDAV, "time-range"); tr != nil {
		r, err := parseTimeRange(tr)
		if err != nil {
			return pf, err
		}
		pf.Range = r
	}
	if tm := n.Child(davxml.NSCalDAV, "text-match"); tm != nil {
		t, err := parseTextMatch(tm)
		if err != nil {
			return pf, err
		}
		pf.Text = t
	}
	for _, p := range n.All(davxml.NSCalDAV, "param-filter") {
		name, ok := p.Attribute("name")
		if !ok || name == "" {
			return pf, filterErr("param-filter without name")
		}
		parf := ParamFilter{Name: strings.ToUpper(name)}
		if p.Child(davxml.NSCalDAV, "is-not-defined") != nil {
			parf.IsNotDefined = true
		} else if tm := p.Child(davxml.NSCalDAV, "text-match"); tm != nil {
			t, err := parseTextMatch(tm)
			if err != nil {
				return pf, err
			}
			parf.Text = t
		}
		pf.Params = append(pf.Params, parf)
	}
	return pf, nil
}

func parseTextMatch(n *davxml.Node) (*TextMatch, error) {
	t := &TextMatch{Text: n.Text, Collation: DefaultCollation}
	if c, ok := n.Attribute("collation"); ok && c != "" {
		t.Collation = c
	}
	if !collation.IsSupported(t.Collation) {
		return nil, &FilterError{Msg: fmt.Sprintf("unsupported collation %q", t.Collation), Collation: true}
	}
	if v, ok := n.Attribute("negate-condition"); ok {
		switch v {
		case "yes":
			t.Negate = true
		case "no":
		default:
			return nil, filterErr("negate-condition must be yes or no")
		}
	}
	return t, nil
}

func parseTimeRange(n *davxml.Node) (*TimeRange, error) {
	var r TimeRange
	for _, b := range []struct {
		attr string
		dst  *time.Time
	}{{"start", &r.Start}, {"end", &r.End}} {
		v, ok := n.Attribute(b.attr)
		if !ok {
			continue
		}
		t, err := ParseUTC(v)
		if err != nil {
			return nil, filterErr("time-range %s: %v", b.attr, err)
		}
		*b.dst = t
	}
	if r.Start.IsZero() && r.End.IsZero() {
		return nil, filterErr("time-range needs start or end")
	}
	if !r.Start.IsZero() && !r.End.IsZero() && !r.End.After(r.Start) {
		return nil, filterErr("time-range end must be after start")
	}
	return &r, nil
}

// ParseUTC parses a CalDAV time-range or expand bound, which must be a
// UTC date-time (a value without Z is read as UTC too).
func ParseUTC(v string) (time.Time, error) {
	wall, kind, err := parseWall(v)
	if err != nil {
		return time.Time{}, err
	}
	if kind == kindDate {
		return time.Time{}, errors.New("date-time required")
	}
	return wall, nil
}

// Span returns the time range of the VEVENT comp-filter directly under
// VCALENDAR, if any: an object whose events all lie outside it cannot
// match. It is used to skip objects before parsing them.
func (f *Filter) Span() *TimeRange {
	for _, c := range f.Comp.Comps {
		if c.Name == "VEVENT" && !c.IsNotDefined && c.Range != nil {
			return c.Range
		}
	}
	return nil
}
