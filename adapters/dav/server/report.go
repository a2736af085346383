package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/mycelium-go/mycelium/adapters/dav/calendar"
	"github.com/mycelium-go/mycelium/adapters/dav/contacts"
	"github.com/mycelium-go/mycelium/adapters/dav/davxml"
	"github.com/mycelium-go/mycelium/adapters/dav/store"
)

var errUnsupportedReport = errCond(http.StatusForbidden, davxml.NSDAV, "supported-report", "report not supported on this resource")

func (h *Handler) report(w http.ResponseWriter, r *http.Request, t target, id identity) error {
	root, err := readXML(r)
	if err != nil {
		return err
	}
	if root == nil {
		return errStatus(http.StatusBadRequest, "REPORT without body")
	}
	rq := reportReq{w: w, r: r, t: t, id: id, root: root, minimal: preferMinimal(r)}
	switch root.Name {
	case davxml.N(davxml.NSCalDAV, "calendar-query"):
		return h.calendarQuery(rq)
	case davxml.N(davxml.NSCardDAV, "addressbook-query"):
		return h.addressbookQuery(rq)
	case davxml.N(davxml.NSCalDAV, "calendar-multiget"):
		return h.multiget(rq, store.Calendar)
	case davxml.N(davxml.NSCardDAV, "addressbook-multiget"):
		return h.multiget(rq, store.AddressBook)
	case davxml.N(davxml.NSDAV, "sync-collection"):
		return h.syncCollection(rq)
	}
	return errUnsupportedReport
}

// reportReq carries one REPORT through its handler.
type reportReq struct {
	w       http.ResponseWriter
	r       *http.Request
	t       target
	id      identity
	root    *davxml.Node
	minimal bool
}

func (rq reportReq) ctx() context.Context { return rq.r.Context() }

// reportCollection returns the collection a query or sync report runs
// on; it must be of kind k.
func (h *Handler) reportCollection(rq reportReq, k store.Kind) (*store.Collection, error) {
	if (rq.t.kind != resCollection && rq.t.kind != resObject) || rq.t.ckind != k {
		return nil, errUnsupportedReport
	}
	return h.collection(rq.ctx(), rq.t)
}

func filterError(space string, err error, collation bool) error {
	if collation {
		return errCond(http.StatusForbidden, space, "supported-collation", "%v", err)
	}
	return errCond(http.StatusForbidden, space, "valid-filter", "%v", err)
}

func (h *Handler) calendarQuery(rq reportReq) error {
	c, err := h.reportCollection(rq, store.Calendar)
	if err != nil {
		return err
	}
	f, err := calendar.ParseFilter(rq.root.Child(davxml.NSCalDAV, "filter"))
	var fe *calendar.FilterError
	if errors.As(err, &fe) {
		return filterError(davxml.NSCalDAV, err, fe.Collation)
	} else if err != nil {
		return err
	}
	pf, err := davxml.ParsePropSelector(rq.root)
	if err != nil {
		return errStatus(http.StatusBadRequest, "%v", err)
	}
	out, err := h.calendarData(rq.root)
	if err != nil {
		return err
	}
	var span *store.Bounds
	if tr := f.Span(); tr != nil {
		span = &store.Bounds{Start: tr.Start.Unix(), End: tr.End.Unix(), HasStart: !tr.Start.IsZero(), HasEnd: !tr.End.IsZero()}
	}
	objs, err := h.st.Objects(rq.ctx(), c.ID, span)
	if err != nil {
		return err
	}
	floating := h.floating(c)
	var resps []davxml.Response
	for _, o := range objs {
		if rq.t.kind == resObject && o.Name != rq.t.obj {
			continue
		}
		cal, err := calendar.Decode(o.Data)
		if err != nil {
			h.log.Warn("stored calendar object does not parse", "collection", c.Name, "object", o.Name, "err", err)
			continue
		}
		ok, err := f.Match(cal, floating)
		if err != nil {
			h.log.Warn("calendar-query evaluation failed", "collection", c.Name, "object", o.Name, "err", err)
			continue
		}
		if !ok {
			continue
		}
		resp, err := h.objectResponse(rq, c, &o.ObjectMeta, out.data(o.Data, floating), pf)
		if err != nil {
			return err
		}
		resps = append(resps, resp)
	}
	h.writeMultistatus(rq.w, resps, "")
	return nil
}

// floating returns the zone for floating times of calendar c: its
// calendar-timezone, or UTC.
func (h *Handler) floating(c *store.Collection) calendar.Zone {
	p := c.Prop(pnCalendarTimezone)
	if p == nil {
		return calendar.UTC
	}
	n, err := davxml.Parse(bytesReader(p.XML), davxml.DefaultLimits)
	if err != nil || n == nil {
		return calendar.UTC
	}
	z, err := calendar.TimezoneZone(n.Text)
	if err != nil {
		return calendar.UTC
	}
	return z
}

func (h *Handler) addressbookQuery(rq reportReq) error {
	c, err := h.reportCollection(rq, store.AddressBook)
	if err != nil {
		return err
	}
	q, err := contacts.ParseQuery(rq.root)
	var fe *contacts.FilterError
	if errors.As(err, &fe) {
		return filterError(davxml.NSCardDAV, err, fe.Collation)
	} else if err != nil {
		return err
	}
	pf, err := davxml.ParsePropSelector(rq.root)
	if err != nil {
		return errStatus(http.StatusBadRequest, "%v", err)
	}
	objs, err := h.st.Objects(rq.ctx(), c.ID, nil)
	if err != nil {
		return err
	}
	var resps []davxml.Response
	truncated := false
	for _, o := range objs {
		if rq.t.kind == resObject && o.Name != rq.t.obj {
			continue
		}
		card, err := contacts.Decode(o.Data)
		if err != nil {
			h.log.Warn("stored vCard does not parse", "collection", c.Name, "object", o.Name, "err", err)
			continue
		}
		ok, err := q.Filter.Match(card)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if q.Limit > 0 && len(resps) == q.Limit {
			truncated = true
			break
		}
		data := o.Data
		resp, err := h.objectResponse(rq, c, &o.ObjectMeta, func() (string, error) { return string(data), nil }, pf)
		if err != nil {
			return err
		}
		resps = append(resps, resp)
	}
	if truncated {
		cond := davxml.N(davxml.NSDAV, "number-of-matches-within-limits")
		resps = append(resps, davxml.Response{Href: rq.t.href(), Status: http.StatusInsufficientStorage, Error: &cond})
	}
	h.writeMultistatus(rq.w, resps, "")
	return nil
}

// multiget serves calendar-multiget and addressbook-multiget. Hrefs may
// point into any of the caller's collections of kind k.
func (h *Handler) multiget(rq reportReq, k store.Kind) error {
	if rq.t.ckind != k || (rq.t.kind != resCollection && rq.t.kind != resHome && rq.t.kind != resObject) {
		return errUnsupportedReport
	}
	m, err := davxml.ParseMultiget(rq.root)
	if err != nil {
		return errStatus(http.StatusBadRequest, "%v", err)
	}
	var out calendarDataReq
	if k == store.Calendar {
		if out, err = h.calendarData(rq.root); err != nil {
			return err
		}
	}
	colls := map[string]*store.Collection{}
	resps := make([]davxml.Response, 0, len(m.Hrefs))
	for _, raw := range m.Hrefs {
		// Answer with the path as the client wrote it (clients match
		// responses to requests by href), or our canonical form.
		ht, href := resolveHref(raw), hrefPath(raw)
		if ht.kind != resObject || ht.ckind != k {
			resps = append(resps, davxml.Response{Href: href, Status: http.StatusNotFound})
			continue
		}
		if ht.owner != rq.id.principal {
			resps = append(resps, davxml.Response{Href: href, Status: http.StatusForbidden})
			continue
		}
		c, ok := colls[ht.coll]
		if !ok {
			c, err = h.st.Collection(rq.ctx(), ht.owner, k, ht.coll)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			colls[ht.coll] = c
		}
		if c == nil {
			resps = append(resps, davxml.Response{Href: href, Status: http.StatusNotFound})
			continue
		}
		o, err := h.st.Object(rq.ctx(), c.ID, ht.obj)
		if errors.Is(err, store.ErrNotFound) {
			resps = append(resps, davxml.Response{Href: href, Status: http.StatusNotFound})
			continue
		} else if err != nil {
			return err
		}
		data := func() (string, error) { return string(o.Data), nil }
		if k == store.Calendar {
			data = out.data(o.Data, h.floating(c))
		}
		resp, err := h.objectResponse(rq, c, &o.ObjectMeta, data, m.PropFind)
		if err != nil {
			return err
		}
		resp.Href = href
		resps = append(resps, resp)
	}
	h.writeMultistatus(rq.w, resps, "")
	return nil
}

func (h *Handler) objectResponse(rq reportReq, c *store.Collection, m *store.ObjectMeta, data dataFunc, pf davxml.PropFind) (davxml.Response, error) {
	ps := h.objectProps(c.Kind, m, rq.id, data)
	return ps.response(objectHref(c.Kind, c.Principal, c.Name, m.Name), pf, rq.minimal)
}
