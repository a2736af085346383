package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/mycelium-go/mycelium/adapters/dav/davxml"
	"github.com/mycelium-go/mycelium/adapters/dav/store"
)

// calendarComponents are the component types a calendar can hold.
var calendarComponents = map[string]bool{"VEVENT": true, "VTODO": true, "VJOURNAL": true, "VFREEBUSY": true}

// mkcol serves MKCOL (plain, or extended per RFC 5689) and MKCALENDAR
// (RFC 4791 5.3.1). Collections live directly in the caller's home
// sets; a plain MKCOL makes the home set's natural kind.
func (h *Handler) mkcol(w http.ResponseWriter, r *http.Request, t target, isCalendar bool) error {
	if t.kind != resCollection || (isCalendar && t.ckind != store.Calendar) {
		if isCalendar {
			return errCond(http.StatusForbidden, davxml.NSCalDAV, "calendar-collection-location-ok",
				"calendars can only be created in the calendar home set")
		}
		return errStatus(http.StatusForbidden, "collections can only be created in a home set")
	}
	if !validCollectionName(t.coll) {
		return errStatus(http.StatusForbidden, "invalid collection name %q", t.coll)
	}
	root, err := readXML(r)
	if err != nil {
		return err
	}
	rootName := davxml.N(davxml.NSDAV, "mkcol")
	if isCalendar {
		rootName = davxml.N(davxml.NSCalDAV, "mkcalendar")
	}
	props, err := davxml.ParseMkcol(root, rootName)
	if err != nil {
		return errStatus(http.StatusBadRequest, "%v", err)
	}
	nc := store.NewCollection{Principal: t.owner, Kind: t.ckind, Name: t.coll}
	if t.ckind == store.Calendar {
		nc.Components = []string{"VEVENT", "VTODO"}
	}
	for _, p := range props {
		if err := applyMkcolProp(&nc, p); err != nil {
			return err
		}
	}
	if _, err := h.st.CreateCollection(r.Context(), nc); errors.Is(err, store.ErrExists) {
		w.Header().Set("Allow", strings.Join(allowed(t), ", "))
		return errCond(http.StatusMethodNotAllowed, davxml.NSDAV, "resource-must-be-null", "%s exists", t.coll)
	} else if err != nil {
		return err
	}
	h.log.Info("collection created", "principal", t.owner, "kind", t.ckind.String(), "name", t.coll)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func applyMkcolProp(nc *store.NewCollection, p *davxml.Node) error {
	switch p.Name {
	case pnResourceType:
		return checkResourceType(nc.Kind, p)
	case pnSupportedCompSet:
		if nc.Kind != store.Calendar {
			return errCond(http.StatusForbidden, davxml.NSDAV, "cannot-modify-protected-property", "component set on an address book")
		}
		var comps []string
		for _, c := range p.All(davxml.NSCalDAV, "comp") {
			name, _ := c.Attribute("name")
			name = strings.ToUpper(name)
			if !calendarComponents[name] {
				return errCond(http.StatusForbidden, davxml.NSCalDAV, "supported-calendar-component", "unsupported component %q", name)
			}
			comps = append(comps, name)
		}
		if len(comps) == 0 {
			return errCond(http.StatusForbidden, davxml.NSCalDAV, "supported-calendar-component", "empty component set")
		}
		nc.Components = comps
		return nil
	}
	sp, f := settable(p)
	if f != nil {
		he := &httpError{code: f.status, cond: f.cond, msg: f.msg}
		if he.cond == nil {
			return errStatus(f.status, "%s", f.msg)
		}
		return he
	}
	nc.Props = append(nc.Props, sp)
	return nil
}

// checkResourceType accepts an extended MKCOL resourcetype only if it is
// the collection kind of the home set it is created in.
func checkResourceType(k store.Kind, p *davxml.Node) error {
	want := davxml.N(davxml.NSCalDAV, "calendar")
	if k == store.AddressBook {
		want = davxml.N(davxml.NSCardDAV, "addressbook")
	}
	hasColl, hasKind := false, false
	for _, c := range p.Children {
		switch c.Name {
		case davxml.N(davxml.NSDAV, "collection"):
			hasColl = true
		case want:
			hasKind = true
		default:
			return errCond(http.StatusForbidden, davxml.NSDAV, "valid-resourcetype", "resource type %s not supported here", c.Name.Local)
		}
	}
	if !hasColl || !hasKind {
		return errCond(http.StatusForbidden, davxml.NSDAV, "valid-resourcetype", "resourcetype must be collection and %s", want.Local)
	}
	return nil
}
