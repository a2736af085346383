package calendar

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

type valueKind uint8

const (
	kindDate     valueKind = iota // 20240102
	kindFloating                  // 20240102T150405
	kindUTC                       // 20240102T150405Z
)

// parseWall parses an iCalendar DATE or DATE-TIME value into a floating
// wall-clock time.
func parseWall(v string) (time.Time, valueKind, error) {
	v = strings.TrimSpace(v)
	var (
		t    time.Time
		err  error
		kind valueKind
	)
	switch len(v) {
	case 8:
		t, err = time.Parse("20060102", v)
		kind = kindDate
	case 15:
		t, err = time.Parse("20060102T150405", v)
		kind = kindFloating
	case 16:
		if v[15] != 'Z' && v[15] != 'z' {
			return time.Time{}, 0, fmt.Errorf("calendar: bad date-time %q", v)
		}
		t, err = time.Parse("20060102T150405", v[:15])
		kind = kindUTC
	default:
		return time.Time{}, 0, fmt.Errorf("calendar: bad date or date-time %q", v)
	}
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("calendar: bad date or date-time %q", v)
	}
	return t, kind, nil
}

// dateTime is a parsed DATE or DATE-TIME value with its zone.
type dateTime struct {
	wall time.Time
	date bool
	zone Zone
}

func (d dateTime) instant() time.Time { return d.zone.Instant(d.wall) }

// parseProp parses a single-valued DATE or DATE-TIME property.
func (z *zones) parseProp(p *ical.Prop) (dateTime, error) {
	list, err := z.parseList(p)
	if err != nil {
		return dateTime{}, err
	}
	if len(list) != 1 {
		return dateTime{}, fmt.Errorf("calendar: %s must have one value", p.Name)
	}
	return list[0], nil
}

// parseList parses a (possibly comma-separated) DATE, DATE-TIME or
// PERIOD list; for periods only the start is returned.
func (z *zones) parseList(p *ical.Prop) ([]dateTime, error) {
	var out []dateTime
	for _, v := range strings.Split(p.Value, ",") {
		v, _, _ = strings.Cut(v, "/")
		wall, kind, err := parseWall(v)
		if err != nil {
			return nil, fmt.Errorf("calendar: %s: %w", p.Name, err)
		}
		d := dateTime{wall: wall, date: kind == kindDate, zone: z.floating}
		switch {
		case kind == kindUTC:
			d.zone = UTC
		case kind == kindFloating:
			if tzid := p.Params.Get(ical.PropTimezoneID); tzid != "" {
				d.zone = z.lookup(tzid)
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// ErrRuleRefused is returned for recurrence rules the server will not
// expand (sub-daily rules with BYxxx parts, which rrule-go can take
// practically forever to evaluate, and rules that never produce an
// instance).
var ErrRuleRefused = errors.New("calendar: recurrence rule refused")

// ruleInfo tells how UNTIL was written.
type ruleInfo struct {
	untilUTC  bool
	untilDate bool
}

// parseRule parses an RRULE value for floating (wall-clock) expansion.
func parseRule(v string) (*rrule.ROption, ruleInfo, error) {
	var (
		info  ruleInfo
		parts []string
		hasBy bool
	)
	for _, part := range strings.Split(strings.ToUpper(strings.TrimSpace(v)), ";") {
		name, val, _ := strings.Cut(part, "=")
		switch {
		case name == "" && val == "":
			continue
		case strings.HasPrefix(name, "X-") || name == "RSCALE" || name == "SKIP":
			continue // extensions rrule-go does not know; expand as Gregorian
		case name == "UNTIL":
			info.untilUTC = strings.HasSuffix(val, "Z")
			info.untilDate = len(val) == 8
			if _, _, err := parseWall(val); err != nil {
				return nil, info, fmt.Errorf("calendar: RRULE UNTIL: %w", err)
			}
		case strings.HasPrefix(name, "BY"):
			hasBy = true
		}
		parts = append(parts, part)
	}
	opt, err := rrule.StrToROptionInLocation(strings.Join(parts, ";"), time.UTC)
	if err != nil {
		return nil, info, fmt.Errorf("calendar: RRULE %q: %w", v, err)
	}
	if opt.Freq > rrule.DAILY && hasBy {
		return nil, info, fmt.Errorf("%w: %s with BYxxx parts", ErrRuleRefused, opt.Freq)
	}
	if opt.Interval < 0 || opt.Count < 0 {
		return nil, info, fmt.Errorf("calendar: RRULE %q: negative INTERVAL or COUNT", v)
	}
	return opt, info, nil
}
