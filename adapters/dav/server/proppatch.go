package server

import (
	"encoding/xml"
	"net/http"

	"github.com/mycelium-go/mycelium/adapters/dav/calendar"
	"github.com/mycelium-go/mycelium/adapters/dav/davxml"
	"github.com/mycelium-go/mycelium/adapters/dav/store"
)

// protected are live properties a client cannot set or remove.
var protected = map[xml.Name]bool{
	pnResourceType: true, pnGetCTag: true, pnSyncToken: true, pnGetETag: true,
	pnGetContentType: true, pnGetContentLength: true, pnGetLastModified: true,
	pnCurrentUserPrinc: true, pnPrincipalURL: true, pnOwner: true, pnPrivileges: true,
	pnSupportedReports: true, pnPrincipalCollection: true, pnCalendarHomeSet: true,
	pnAddressbookHomeSet: true, pnCalendarUserAddr: true, pnCalendarUserType: true,
	pnSupportedCompSet: true, pnSupportedCalData: true, pnSupportedAddrData: true,
	pnCalMaxResourceSize: true, pnCardMaxResourceSize: true, pnCalCollationSet: true,
	pnCardCollationSet: true, pnCalendarData: true, pnAddressData: true,
	davxml.N(davxml.NSDAV, "creationdate"): true, davxml.N(davxml.NSDAV, "lockdiscovery"): true,
	davxml.N(davxml.NSDAV, "supportedlock"): true, davxml.N(davxml.NSDAV, "quota-used-bytes"): true,
	davxml.N(davxml.NSDAV, "quota-available-bytes"): true, davxml.N(davxml.NSDAV, "acl"): true,
}

// propFailure is why one property cannot be set.
type propFailure struct {
	status int
	cond   *xml.Name
	msg    string
}

var condProtected = davxml.N(davxml.NSDAV, "cannot-modify-protected-property")

// settable checks one property a client wants to store on a collection
// and returns it in stored form.
func settable(n *davxml.Node) (store.Prop, *propFailure) {
	if protected[n.Name] {
		return store.Prop{}, &propFailure{status: http.StatusForbidden, cond: &condProtected, msg: n.Name.Local + " is protected"}
	}
	if n.Name == pnCalendarTimezone {
		if _, err := calendar.TimezoneZone(n.Text); err != nil {
			c := davxml.N(davxml.NSCalDAV, "valid-calendar-data")
			return store.Prop{}, &propFailure{status: http.StatusForbidden, cond: &c, msg: err.Error()}
		}
	}
	return store.Prop{Name: n.Name, XML: n.Marshal()}, nil
}

// textProp returns a stored property with a text value.
func textProp(name xml.Name, value string) store.Prop {
	n := &davxml.Node{Name: name, Text: value}
	return store.Prop{Name: name, XML: n.Marshal()}
}

func (h *Handler) proppatch(w http.ResponseWriter, r *http.Request, t target) error {
	root, err := readXML(r)
	if err != nil {
		return err
	}
	ops, err := davxml.ParsePropertyUpdate(root)
	if err != nil {
		return errStatus(http.StatusBadRequest, "%v", err)
	}
	var c *store.Collection
	if t.kind == resCollection {
		if c, err = h.collection(r.Context(), t); err != nil {
			return err
		}
	}
	var (
		set     []store.Prop
		remove  []xml.Name
		results = make([]*propFailure, len(ops))
		failed  bool
	)
	for i, op := range ops {
		switch {
		case c == nil:
			results[i] = &propFailure{status: http.StatusForbidden, msg: "properties can only be changed on calendars and address books"}
		case op.Remove && protected[op.Prop.Name]:
			results[i] = &propFailure{status: http.StatusForbidden, cond: &condProtected}
		case op.Remove:
			remove = append(remove, op.Prop.Name)
		default:
			p, f := settable(op.Prop)
			results[i] = f
			set = append(set, p)
		}
		failed = failed || results[i] != nil
	}
	if !failed {
		if err := h.st.PatchProps(r.Context(), c.ID, set, remove); err != nil {
			return err
		}
	}
	resp := davxml.Response{Href: t.href()}
	for i, op := range ops {
		status := http.StatusOK
		switch {
		case results[i] != nil:
			status = results[i].status
		case failed:
			status = http.StatusFailedDependency
		}
		resp.PropStats = append(resp.PropStats, davxml.PropStat{Status: status, Props: []davxml.Prop{{Name: op.Prop.Name}}})
	}
	h.writeMultistatus(w, []davxml.Response{resp}, "")
	return nil
}
