package server

import (
	"encoding/xml"
	"net/http"
	"sort"

	"github.com/mycelium-go/mycelium/adapters/dav/davxml"
	"github.com/mycelium-go/mycelium/adapters/dav/store"
)

// propFunc produces the complete XML element of a live property.
type propFunc func() ([]byte, error)

// propSet is what one resource can answer to PROPFIND: live properties
// (computed) and dead properties (stored).
type propSet struct {
	live    map[xml.Name]propFunc
	allprop []xml.Name // live properties listed by allprop
	dead    []store.Prop
}

func newPropSet() *propSet { return &propSet{live: map[xml.Name]propFunc{}} }

// add registers a live property; inAll puts it in allprop answers.
func (ps *propSet) add(name xml.Name, inAll bool, f propFunc) {
	ps.live[name] = f
	if inAll {
		ps.allprop = append(ps.allprop, name)
	}
}

// text registers a live property with a text value.
func (ps *propSet) text(name xml.Name, inAll bool, value string) {
	ps.add(name, inAll, func() ([]byte, error) { return davxml.TextElement(name, value), nil })
}

// inner registers a live property whose content is an XML fragment.
func (ps *propSet) inner(name xml.Name, inAll bool, fragment string) {
	ps.add(name, inAll, func() ([]byte, error) { return davxml.Element(name, fragment), nil })
}

func (ps *propSet) deadProp(name xml.Name) *store.Prop {
	for i := range ps.dead {
		if ps.dead[i].Name == name {
			return &ps.dead[i]
		}
	}
	return nil
}

// value returns the element of one property, or nil if the resource
// does not have it. Live properties take precedence over dead ones.
func (ps *propSet) value(name xml.Name) ([]byte, error) {
	if f, ok := ps.live[name]; ok {
		return f()
	}
	if p := ps.deadProp(name); p != nil {
		return p.XML, nil
	}
	return nil, nil
}

// response builds the DAV:response for a PROPFIND-style request. With
// minimal (Prefer: return=minimal or Brief: t), properties that are not
// found are left out.
func (ps *propSet) response(href string, pf davxml.PropFind, minimal bool) (davxml.Response, error) {
	resp := davxml.Response{Href: href}
	if pf.PropName {
		var names []davxml.Prop
		for _, n := range ps.names() {
			names = append(names, davxml.Prop{Name: n})
		}
		resp.PropStats = []davxml.PropStat{{Status: http.StatusOK, Props: names}}
		return resp, nil
	}
	want := pf.Props
	if pf.AllProp {
		want = append(append(append([]xml.Name(nil), ps.allprop...), ps.deadNames()...), pf.Props...)
	}
	var found, missing []davxml.Prop
	seen := map[xml.Name]bool{}
	for _, n := range want {
		if seen[n] {
			continue
		}
		seen[n] = true
		v, err := ps.value(n)
		if err != nil {
			return resp, err
		}
		if v == nil {
			missing = append(missing, davxml.Prop{Name: n})
			continue
		}
		found = append(found, davxml.Prop{Name: n, XML: v})
	}
	if len(found) > 0 || len(missing) == 0 {
		resp.PropStats = append(resp.PropStats, davxml.PropStat{Status: http.StatusOK, Props: found})
	}
	if len(missing) > 0 && !minimal {
		resp.PropStats = append(resp.PropStats, davxml.PropStat{Status: http.StatusNotFound, Props: missing})
	}
	return resp, nil
}

func (ps *propSet) deadNames() []xml.Name {
	out := make([]xml.Name, 0, len(ps.dead))
	for _, p := range ps.dead {
		if _, live := ps.live[p.Name]; !live {
			out = append(out, p.Name)
		}
	}
	return out
}

func (ps *propSet) names() []xml.Name {
	out := make([]xml.Name, 0, len(ps.live)+len(ps.dead))
	for n := range ps.live {
		out = append(out, n)
	}
	out = append(out, ps.deadNames()...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Space != out[j].Space {
			return out[i].Space < out[j].Space
		}
		return out[i].Local < out[j].Local
	})
	return out
}

// Property names used by the server.
var (
	pnResourceType        = davxml.N(davxml.NSDAV, "resourcetype")
	pnDisplayName         = davxml.N(davxml.NSDAV, "displayname")
	pnCurrentUserPrinc    = davxml.N(davxml.NSDAV, "current-user-principal")
	pnPrincipalURL        = davxml.N(davxml.NSDAV, "principal-URL")
	pnOwner               = davxml.N(davxml.NSDAV, "owner")
	pnPrivileges          = davxml.N(davxml.NSDAV, "current-user-privilege-set")
	pnSupportedReports    = davxml.N(davxml.NSDAV, "supported-report-set")
	pnSyncToken           = davxml.N(davxml.NSDAV, "sync-token")
	pnGetETag             = davxml.N(davxml.NSDAV, "getetag")
	pnGetContentType      = davxml.N(davxml.NSDAV, "getcontenttype")
	pnGetContentLength    = davxml.N(davxml.NSDAV, "getcontentlength")
	pnGetLastModified     = davxml.N(davxml.NSDAV, "getlastmodified")
	pnPrincipalCollection = davxml.N(davxml.NSDAV, "principal-collection-set")
	pnGetCTag             = davxml.N(davxml.NSCS, "getctag")
	pnCalendarHomeSet     = davxml.N(davxml.NSCalDAV, "calendar-home-set")
	pnCalendarUserAddr    = davxml.N(davxml.NSCalDAV, "calendar-user-address-set")
	pnCalendarUserType    = davxml.N(davxml.NSCalDAV, "calendar-user-type")
	pnCalendarDesc        = davxml.N(davxml.NSCalDAV, "calendar-description")
	pnCalendarTimezone    = davxml.N(davxml.NSCalDAV, "calendar-timezone")
	pnSupportedCompSet    = davxml.N(davxml.NSCalDAV, "supported-calendar-component-set")
	pnSupportedCalData    = davxml.N(davxml.NSCalDAV, "supported-calendar-data")
	pnCalMaxResourceSize  = davxml.N(davxml.NSCalDAV, "max-resource-size")
	pnCalCollationSet     = davxml.N(davxml.NSCalDAV, "supported-collation-set")
	pnCalendarData        = davxml.N(davxml.NSCalDAV, "calendar-data")
	pnAddressbookHomeSet  = davxml.N(davxml.NSCardDAV, "addressbook-home-set")
	pnAddressbookDesc     = davxml.N(davxml.NSCardDAV, "addressbook-description")
	pnSupportedAddrData   = davxml.N(davxml.NSCardDAV, "supported-address-data")
	pnCardMaxResourceSize = davxml.N(davxml.NSCardDAV, "max-resource-size")
	pnCardCollationSet    = davxml.N(davxml.NSCardDAV, "supported-collation-set")
	pnAddressData         = davxml.N(davxml.NSCardDAV, "address-data")
	pnCalendarColor       = davxml.N(davxml.NSApple, "calendar-color")
)
