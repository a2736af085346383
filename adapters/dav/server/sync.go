package server

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/mycelium-go/mycelium/adapters/dav/calendar"
	"github.com/mycelium-go/mycelium/adapters/dav/davxml"
	"github.com/mycelium-go/mycelium/adapters/dav/store"
)

var errBadToken = errCond(http.StatusForbidden, davxml.NSDAV, "valid-sync-token", "sync token not valid for this collection")

// syncCollection serves the DAV:sync-collection report (RFC 6578) on a
// calendar or address book: members changed since the token with the
// requested properties, removed members as 404 responses, and the new
// token. A limit truncates the answer with a 507 response for the
// collection; the returned token then continues where it stopped.
func (h *Handler) syncCollection(rq reportReq) error {
	if rq.t.kind != resCollection {
		return errUnsupportedReport
	}
	c, err := h.collection(rq.ctx(), rq.t)
	if err != nil {
		return err
	}
	sc, err := davxml.ParseSyncCollection(rq.root)
	if err != nil {
		return errStatus(http.StatusBadRequest, "%v", err)
	}
	var since int64
	if sc.Token != "" {
		syncID, seq, err := store.ParseToken(sc.Token)
		if err != nil || syncID != c.SyncID {
			return errBadToken
		}
		since = seq
		if since == 0 {
			return errBadToken
		}
	}
	cs, err := h.st.Changes(rq.ctx(), c.ID, since, sc.Limit)
	if errors.Is(err, store.ErrTokenExpired) {
		return errBadToken
	} else if err != nil {
		return err
	}
	var out calendarDataReq
	if c.Kind == store.Calendar {
		if out, err = h.calendarData(rq.root); err != nil {
			return err
		}
	}
	resps := make([]davxml.Response, 0, len(cs.Changes)+1)
	for _, ch := range cs.Changes {
		href := objectHref(c.Kind, c.Principal, c.Name, ch.Name)
		if ch.Deleted {
			resps = append(resps, davxml.Response{Href: href, Status: http.StatusNotFound})
			continue
		}
		data := h.loader(rq.ctx(), c, ch.Name)
		if c.Kind == store.Calendar && out.expand != nil {
			load, floating := data, h.floating(c)
			data = func() (string, error) {
				s, err := load()
				if err != nil {
					return "", err
				}
				return out.data([]byte(s), floating)()
			}
		}
		resp, err := h.objectResponse(rq, c, ch.Meta, data, sc.PropFind)
		if err != nil {
			return err
		}
		resps = append(resps, resp)
	}
	if cs.Truncated {
		cond := davxml.N(davxml.NSDAV, "number-of-matches-within-limits")
		resps = append(resps, davxml.Response{Href: rq.t.href(), Status: http.StatusInsufficientStorage, Error: &cond})
	}
	h.writeMultistatus(rq.w, resps, store.FormatToken(c.SyncID, cs.Seq))
	return nil
}

// calendarDataReq is what a report's CALDAV:calendar-data element asks
// for; only expansion changes the data we return.
type calendarDataReq struct {
	expand *calendar.TimeRange
}

func (h *Handler) calendarData(root *davxml.Node) (calendarDataReq, error) {
	cd := root.Child(davxml.NSDAV, "prop").Child(davxml.NSCalDAV, "calendar-data")
	ex := cd.Child(davxml.NSCalDAV, "expand")
	if ex == nil {
		return calendarDataReq{}, nil
	}
	var r calendar.TimeRange
	for _, b := range []struct {
		attr string
		dst  *calendar.TimeRange
	}{{"start", &r}, {"end", &r}} {
		v, ok := ex.Attribute(b.attr)
		if !ok {
			return calendarDataReq{}, errCond(http.StatusForbidden, davxml.NSCalDAV, "valid-calendar-data", "expand needs start and end")
		}
		t, err := calendar.ParseUTC(v)
		if err != nil {
			return calendarDataReq{}, errStatus(http.StatusBadRequest, "expand %s: %v", b.attr, err)
		}
		if b.attr == "start" {
			r.Start = t
		} else {
			r.End = t
		}
	}
	if !r.End.After(r.Start) {
		return calendarDataReq{}, errStatus(http.StatusBadRequest, "expand end must be after start")
	}
	return calendarDataReq{expand: &r}, nil
}

func (c calendarDataReq) data(raw []byte, floating calendar.Zone) dataFunc {
	return func() (string, error) {
		if c.expand == nil {
			return string(raw), nil
		}
		return calendar.Expand(raw, *c.expand, floating)
	}
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
