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
	since, err := tokenSeq(sc.Token, c)
	if err != nil {
		return err
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
		resp, err := h.changeResponse(rq, c, ch, out, sc.PropFind)
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

// tokenSeq returns the change counter of a client's sync token for
// collection c: 0 for the initial sync, 403 valid-sync-token for a token
// that is not one of c's.
func tokenSeq(token string, c *store.Collection) (int64, error) {
	if token == "" {
		return 0, nil
	}
	syncID, seq, err := store.ParseToken(token)
	if err != nil || syncID != c.SyncID || seq == 0 {
		return 0, errBadToken
	}
	return seq, nil
}

// changeResponse answers one changed member: 404 if it was deleted, else
// its properties.
func (h *Handler) changeResponse(rq reportReq, c *store.Collection, ch store.Change, out calendarDataReq, pf davxml.PropFind) (davxml.Response, error) {
	if ch.Deleted {
		return davxml.Response{Href: objectHref(c.Kind, c.Principal, c.Name, ch.Name), Status: http.StatusNotFound}, nil
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
	return h.objectResponse(rq, c, ch.Meta, data, pf)
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
