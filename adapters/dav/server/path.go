package server

import (
	"net/url"
	"strings"
	"unicode"

	"github.com/mycelium-go/mycelium/adapters/dav/store"
)

// URL layout:
//
//	/                                  root
//	/principals/                       principal collection
//	/principals/<id>/                  principal (<id>: key hex or account name)
//	/calendars/                        calendar homes
//	/calendars/<id>/                   calendar home set of <id>
//	/calendars/<id>/<cal>/             calendar collection
//	/calendars/<id>/<cal>/<object>     calendar object resource
//	/addressbooks/...                  the same for address books
//	/.well-known/caldav, /.well-known/carddav   redirects to /
const (
	segPrincipals   = "principals"
	segCalendars    = "calendars"
	segAddressBooks = "addressbooks"
)

type resKind uint8

const (
	resUnknown    resKind = iota
	resRoot               // /
	resPrincipals         // /principals/
	resPrincipal          // /principals/<id>/
	resHomes              // /calendars/ or /addressbooks/
	resHome               // /calendars/<id>/
	resCollection         // /calendars/<id>/<cal>/
	resObject             // /calendars/<id>/<cal>/<object>
)

// target is a parsed request path.
type target struct {
	kind  resKind
	ckind store.Kind // for resHomes and below
	owner string     // principal id in the path
	coll  string     // collection segment
	obj   string     // object segment
}

// parsePath splits an escaped URL path into a target. Segments are
// unescaped individually, so an encoded slash never splits a name.
func parsePath(escaped string) target {
	trimmed := strings.Trim(escaped, "/")
	if trimmed == "" {
		return target{kind: resRoot}
	}
	raw := strings.Split(trimmed, "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil || !validSegment(u) {
			return target{}
		}
		segs[i] = u
	}
	switch segs[0] {
	case segPrincipals:
		switch len(segs) {
		case 1:
			return target{kind: resPrincipals}
		case 2:
			return target{kind: resPrincipal, owner: segs[1]}
		}
		return target{}
	case segCalendars, segAddressBooks:
		t := target{ckind: store.Calendar}
		if segs[0] == segAddressBooks {
			t.ckind = store.AddressBook
		}
		switch len(segs) {
		case 1:
			t.kind = resHomes
		case 2:
			t.kind, t.owner = resHome, segs[1]
		case 3:
			t.kind, t.owner, t.coll = resCollection, segs[1], segs[2]
		case 4:
			t.kind, t.owner, t.coll, t.obj = resObject, segs[1], segs[2], segs[3]
		default:
			return target{}
		}
		return t
	}
	return target{}
}

// validSegment rejects empty, dot and control-character segments.
func validSegment(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 255 || strings.ContainsRune(s, '/') {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return false
		}
	}
	return true
}

// validCollectionName is what MKCOL and MKCALENDAR accept as a new
// collection's URL segment.
func validCollectionName(s string) bool {
	return validSegment(s) && len(s) <= 128 && !strings.HasPrefix(s, ".")
}

func homeSeg(k store.Kind) string {
	if k == store.AddressBook {
		return segAddressBooks
	}
	return segCalendars
}

func esc(s string) string { return url.PathEscape(s) }

func principalHref(id string) string { return "/" + segPrincipals + "/" + esc(id) + "/" }

func homeHref(k store.Kind, id string) string { return "/" + homeSeg(k) + "/" + esc(id) + "/" }

func collectionHref(k store.Kind, id, coll string) string {
	return homeHref(k, id) + esc(coll) + "/"
}

func objectHref(k store.Kind, id, coll, obj string) string {
	return collectionHref(k, id, coll) + esc(obj)
}

// href returns the canonical escaped path of t.
func (t target) href() string {
	switch t.kind {
	case resRoot:
		return "/"
	case resPrincipals:
		return "/" + segPrincipals + "/"
	case resPrincipal:
		return principalHref(t.owner)
	case resHomes:
		return "/" + homeSeg(t.ckind) + "/"
	case resHome:
		return homeHref(t.ckind, t.owner)
	case resCollection:
		return collectionHref(t.ckind, t.owner, t.coll)
	case resObject:
		return objectHref(t.ckind, t.owner, t.coll, t.obj)
	}
	return "/"
}

// resolveHref turns an href from a request body (absolute URL or path,
// escaped) into a target.
func resolveHref(h string) target {
	u, err := url.Parse(strings.TrimSpace(h))
	if err != nil {
		return target{}
	}
	return parsePath(u.EscapedPath())
}

// hrefPath returns the escaped path of an href from a request body, or
// the href itself if it does not parse.
func hrefPath(h string) string {
	u, err := url.Parse(strings.TrimSpace(h))
	if err != nil || u.EscapedPath() == "" {
		return strings.TrimSpace(h)
	}
	return u.EscapedPath()
}
