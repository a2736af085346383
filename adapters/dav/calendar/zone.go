package calendar

import (
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-ical"
)

// Zone converts between wall-clock times and instants. Wall-clock times
// are carried as time.Time values in UTC whose fields are the local
// date and time (a "floating" representation), which is also how the
// recurrence expansion works, so DST shifts are applied per instance.
type Zone interface {
	// Instant returns the instant at which the zone's clocks show wall.
	Instant(wall time.Time) time.Time
	// Wall returns the zone's wall-clock reading at instant t.
	Wall(t time.Time) time.Time
}

// UTC is the zone whose wall clock is UTC.
var UTC Zone = locZone{time.UTC}

// LocationZone returns the Zone of a Go location.
func LocationZone(loc *time.Location) Zone { return locZone{loc} }

type locZone struct{ loc *time.Location }

func (z locZone) Instant(wall time.Time) time.Time {
	y, mo, d := wall.Date()
	h, mi, s := wall.Clock()
	return time.Date(y, mo, d, h, mi, s, 0, z.loc).UTC()
}

func (z locZone) Wall(t time.Time) time.Time {
	l := t.In(z.loc)
	y, mo, d := l.Date()
	h, mi, s := l.Clock()
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

// zones resolves the TZIDs used in one calendar object.
type zones struct {
	defs     map[string]*ical.Component // VTIMEZONE by TZID
	floating Zone
	cache    map[string]Zone
}

func newZones(cal *ical.Component, floating Zone) *zones {
	z := &zones{defs: map[string]*ical.Component{}, floating: floating, cache: map[string]Zone{}}
	if z.floating == nil {
		z.floating = UTC
	}
	for _, c := range cal.Children {
		if c.Name == ical.CompTimezone {
			if id := c.Props.Get(ical.PropTimezoneID); id != nil {
				z.defs[id.Value] = c
			}
		}
	}
	return z
}

// lookup returns the zone for a TZID: an IANA name (also found as the
// tail of a prefixed name such as /mozilla.org/20050126_1/Europe/Berlin,
// or mapped from a Windows zone name), else the VTIMEZONE definition in
// the object, else the floating zone.
func (z *zones) lookup(tzid string) Zone {
	if zz, ok := z.cache[tzid]; ok {
		return zz
	}
	var zz Zone
	if loc := ianaLocation(tzid); loc != nil {
		zz = locZone{loc}
	} else if def := z.defs[tzid]; def != nil {
		if vz, err := newVTimezone(def); err == nil {
			zz = vz
		}
	}
	if zz == nil {
		zz = z.floating
	}
	z.cache[tzid] = zz
	return zz
}

var locCache struct {
	sync.Mutex
	m map[string]*time.Location // nil value: not a known zone
}

const maxLocCache = 2048

func loadLocation(name string) *time.Location {
	locCache.Lock()
	defer locCache.Unlock()
	if loc, ok := locCache.m[name]; ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		loc = nil
	}
	if locCache.m == nil || len(locCache.m) >= maxLocCache {
		locCache.m = map[string]*time.Location{}
	}
	locCache.m[name] = loc
	return loc
}

func ianaLocation(tzid string) *time.Location {
	tzid = strings.Trim(strings.TrimSpace(tzid), `"`)
	if tzid == "" || len(tzid) > 128 {
		return nil
	}
	if loc := loadLocation(tzid); loc != nil {
		return loc
	}
	if iana, ok := windowsZones[tzid]; ok {
		return loadLocation(iana)
	}
	parts := strings.Split(strings.Trim(tzid, "/"), "/")
	for n := 3; n >= 1; n-- {
		if len(parts) > n {
			if loc := loadLocation(strings.Join(parts[len(parts)-n:], "/")); loc != nil {
				return loc
			}
		}
	}
	return nil
}

// windowsZones maps the Windows zone names that Outlook and Exchange put
// in TZID to IANA names (from CLDR windowsZones.xml, territory 001).
var windowsZones = map[string]string{
	"Dateline Standard Time":          "Etc/GMT+12",
	"Hawaiian Standard Time":          "Pacific/Honolulu",
	"Alaskan Standard Time":           "America/Anchorage",
	"Pacific Standard Time":           "America/Los_Angeles",
	"US Mountain Standard Time":       "America/Phoenix",
	"Mountain Standard Time":          "America/Denver",
	"Central America Standard Time":   "America/Guatemala",
	"Central Standard Time":           "America/Chicago",
	"Mexico Standard Time":            "America/Mexico_City",
	"Canada Central Standard Time":    "America/Regina",
	"SA Pacific Standard Time":        "America/Bogota",
	"Eastern Standard Time":           "America/New_York",
	"Atlantic Standard Time":          "America/Halifax",
	"SA Western Standard Time":        "America/La_Paz",
	"Newfoundland Standard Time":      "America/St_Johns",
	"E. South America Standard Time":  "America/Sao_Paulo",
	"Argentina Standard Time":         "America/Buenos_Aires",
	"UTC":                             "Etc/UTC",
	"GMT Standard Time":               "Europe/London",
	"Greenwich Standard Time":         "Atlantic/Reykjavik",
	"W. Europe Standard Time":         "Europe/Berlin",
	"Central Europe Standard Time":    "Europe/Budapest",
	"Romance Standard Time":           "Europe/Paris",
	"Central European Standard Time":  "Europe/Warsaw",
	"W. Central Africa Standard Time": "Africa/Lagos",
	"GTB Standard Time":               "Europe/Bucharest",
	"E. Europe Standard Time":         "Europe/Chisinau",
	"Egypt Standard Time":             "Africa/Cairo",
	"FLE Standard Time":               "Europe/Kiev",
	"Israel Standard Time":            "Asia/Jerusalem",
	"South Africa Standard Time":      "Africa/Johannesburg",
	"Russian Standard Time":           "Europe/Moscow",
	"Arab Standard Time":              "Asia/Riyadh",
	"Turkey Standard Time":            "Europe/Istanbul",
	"Iran Standard Time":              "Asia/Tehran",
	"Arabian Standard Time":           "Asia/Dubai",
	"Pakistan Standard Time":          "Asia/Karachi",
	"India Standard Time":             "Asia/Calcutta",
	"Nepal Standard Time":             "Asia/Katmandu",
	"Bangladesh Standard Time":        "Asia/Dhaka",
	"SE Asia Standard Time":           "Asia/Bangkok",
	"China Standard Time":             "Asia/Shanghai",
	"Singapore Standard Time":         "Asia/Singapore",
	"Taipei Standard Time":            "Asia/Taipei",
	"W. Australia Standard Time":      "Australia/Perth",
	"Tokyo Standard Time":             "Asia/Tokyo",
	"Korea Standard Time":             "Asia/Seoul",
	"Cen. Australia Standard Time":    "Australia/Adelaide",
	"AUS Eastern Standard Time":       "Australia/Sydney",
	"E. Australia Standard Time":      "Australia/Brisbane",
	"New Zealand Standard Time":       "Pacific/Auckland",
}

// TimezoneZone returns the zone described by a CALDAV:calendar-timezone
// value: a VCALENDAR holding one VTIMEZONE. IANA names win over the
// definition, as for TZID parameters.
func TimezoneZone(text string) (Zone, error) {
	cal, err := Decode([]byte(strings.TrimSpace(text) + "\r\n"))
	if err != nil {
		return nil, err
	}
	for _, c := range cal.Children {
		if c.Name != ical.CompTimezone {
			continue
		}
		tzid := ""
		if p := c.Props.Get(ical.PropTimezoneID); p != nil {
			tzid = p.Value
		}
		if loc := ianaLocation(tzid); loc != nil {
			return locZone{loc}, nil
		}
		vz, err := newVTimezone(c)
		if err != nil {
			return nil, invalid(CondValidData, "%v", err)
		}
		return vz, nil
	}
	return nil, invalid(CondValidData, "calendar-timezone without VTIMEZONE")
}
