package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/mycelium-go/mycelium/adapters/dav/collation"
	"github.com/mycelium-go/mycelium/adapters/dav/davxml"
	"github.com/mycelium-go/mycelium/adapters/dav/store"
)

const (
	privRead = `<D:privilege><D:read/></D:privilege><D:privilege><D:read-current-user-privilege-set/></D:privilege>`
	privAll  = privRead + `<D:privilege><D:all/></D:privilege><D:privilege><D:write/></D:privilege>` +
		`<D:privilege><D:write-properties/></D:privilege><D:privilege><D:write-content/></D:privilege>` +
		`<D:privilege><D:bind/></D:privilege><D:privilege><D:unbind/></D:privilege>`
	privCalendar = privAll + `<D:privilege><C:read-free-busy/></D:privilege>`
)

func report(space, local string) string {
	return `<D:supported-report><D:report>` + davxml.Empty(davxml.N(space, local)) + `</D:report></D:supported-report>`
}

var (
	calendarReports = report(davxml.NSCalDAV, "calendar-query") + report(davxml.NSCalDAV, "calendar-multiget") +
		report(davxml.NSDAV, "sync-collection")
	addressbookReports = report(davxml.NSCardDAV, "addressbook-query") + report(davxml.NSCardDAV, "addressbook-multiget") +
		report(davxml.NSDAV, "sync-collection")
)

// identityProps are answered on every resource: who the caller is.
func identityProps(ps *propSet, id identity) {
	href := davxml.Href(principalHref(id.principal))
	ps.inner(pnCurrentUserPrinc, true, href)
	ps.inner(pnPrincipalURL, false, href)
}

// ownedProps are answered on the caller's own resources.
func ownedProps(ps *propSet, id identity, privileges string) {
	identityProps(ps, id)
	ps.inner(pnOwner, false, davxml.Href(principalHref(id.principal)))
	ps.inner(pnPrivileges, false, privileges)
}

func collectionType(extra ...string) string {
	return davxml.Empty(davxml.N(davxml.NSDAV, "collection")) + strings.Join(extra, "")
}

func (h *Handler) rootProps(t target, id identity) *propSet {
	ps := newPropSet()
	identityProps(ps, id)
	ps.inner(pnResourceType, true, collectionType())
	ps.inner(pnPrivileges, false, privRead)
	ps.inner(pnPrincipalCollection, false, davxml.Href("/"+segPrincipals+"/"))
	switch t.kind {
	case resRoot:
		ps.text(pnDisplayName, true, "Mycelium DAV")
		// Clients that start at the root (or that lost the PROPFIND body
		// following the .well-known redirect) find the home sets here too.
		ps.inner(pnCalendarHomeSet, false, davxml.Href(homeHref(store.Calendar, id.principal)))
		ps.inner(pnAddressbookHomeSet, false, davxml.Href(homeHref(store.AddressBook, id.principal)))
	case resPrincipals:
		ps.text(pnDisplayName, true, "Principals")
	case resHomes:
		ps.text(pnDisplayName, true, homeName(t.ckind))
	}
	return ps
}

func homeName(k store.Kind) string {
	if k == store.AddressBook {
		return "Address books"
	}
	return "Calendars"
}

func (h *Handler) principalProps(id identity) *propSet {
	ps := newPropSet()
	ownedProps(ps, id, privRead)
	ps.inner(pnResourceType, true, collectionType(davxml.Empty(davxml.N(davxml.NSDAV, "principal"))))
	ps.text(pnDisplayName, true, id.display)
	ps.inner(pnCalendarHomeSet, false, davxml.Href(homeHref(store.Calendar, id.principal)))
	ps.inner(pnAddressbookHomeSet, false, davxml.Href(homeHref(store.AddressBook, id.principal)))
	ps.inner(pnCalendarUserAddr, false, davxml.Href(principalHref(id.principal)))
	ps.text(pnCalendarUserType, false, "INDIVIDUAL")
	ps.inner(pnPrincipalCollection, false, davxml.Href("/"+segPrincipals+"/"))
	ps.inner(pnSupportedReports, false, "")
	return ps
}

func (h *Handler) homeProps(k store.Kind, id identity) *propSet {
	ps := newPropSet()
	ownedProps(ps, id, privAll)
	ps.inner(pnResourceType, true, collectionType())
	ps.text(pnDisplayName, true, homeName(k))
	ps.inner(pnSupportedReports, false, "")
	return ps
}

func ctag(c *store.Collection) string { return c.SyncID + "-" + strconv.FormatInt(c.Seq, 10) }

func (h *Handler) collectionProps(c *store.Collection, id identity) *propSet {
	ps := newPropSet()
	ps.dead = c.Props
	ps.text(pnGetCTag, true, ctag(c))
	ps.text(pnSyncToken, true, store.FormatToken(c.SyncID, c.Seq))
	max := strconv.FormatInt(h.cfg.MaxResourceSize, 10)
	var coll strings.Builder
	switch c.Kind {
	case store.Calendar:
		ownedProps(ps, id, privCalendar)
		ps.inner(pnResourceType, true, collectionType(davxml.Empty(davxml.N(davxml.NSCalDAV, "calendar"))))
		ps.inner(pnSupportedReports, false, calendarReports)
		var comps strings.Builder
		for _, name := range c.Components {
			fmt.Fprintf(&comps, `<C:comp name="%s"/>`, name)
		}
		ps.inner(pnSupportedCompSet, true, comps.String())
		ps.inner(pnSupportedCalData, false, `<C:calendar-data content-type="text/calendar" version="2.0"/>`)
		ps.text(pnCalMaxResourceSize, false, max)
		for _, s := range collation.Supported {
			fmt.Fprintf(&coll, `<C:supported-collation>%s</C:supported-collation>`, s)
		}
		ps.inner(pnCalCollationSet, false, coll.String())
	case store.AddressBook:
		ownedProps(ps, id, privAll)
		ps.inner(pnResourceType, true, collectionType(davxml.Empty(davxml.N(davxml.NSCardDAV, "addressbook"))))
		ps.inner(pnSupportedReports, false, addressbookReports)
		ps.inner(pnSupportedAddrData, false,
			`<CR:address-data-type content-type="text/vcard" version="3.0"/><CR:address-data-type content-type="text/vcard" version="4.0"/>`)
		ps.text(pnCardMaxResourceSize, false, max)
		for _, s := range collation.Supported {
			fmt.Fprintf(&coll, `<CR:supported-collation>%s</CR:supported-collation>`, s)
		}
		ps.inner(pnCardCollationSet, false, coll.String())
	}
	return ps
}

// dataFunc returns an object's data as it should appear in
// calendar-data or address-data.
type dataFunc func() (string, error)

func contentType(k store.Kind) string {
	if k == store.AddressBook {
		return "text/vcard; charset=utf-8"
	}
	return "text/calendar; charset=utf-8"
}

func quoteETag(e string) string { return `"` + e + `"` }

func (h *Handler) objectProps(k store.Kind, m *store.ObjectMeta, id identity, data dataFunc) *propSet {
	ps := newPropSet()
	ownedProps(ps, id, privAll)
	ps.inner(pnResourceType, true, "")
	ps.text(pnGetETag, true, quoteETag(m.ETag))
	ps.text(pnGetContentType, true, contentType(k))
	ps.text(pnGetContentLength, true, strconv.FormatInt(m.Size, 10))
	ps.text(pnGetLastModified, true, m.Modified.UTC().Format(http.TimeFormat))
	dataName := pnCalendarData
	if k == store.AddressBook {
		dataName = pnAddressData
	}
	if data != nil {
		ps.add(dataName, false, func() ([]byte, error) {
			s, err := data()
			if err != nil {
				return nil, err
			}
			return davxml.TextElement(dataName, s), nil
		})
	}
	return ps
}
