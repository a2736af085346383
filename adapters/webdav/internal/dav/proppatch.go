package dav

import (
	"net/http"

	"github.com/mycelium-go/mycelium/adapters/webdav/internal/davxml"
	"golang.org/x/net/webdav"
)

// proppatch sets and removes dead properties, atomically and in document
// order, and answers 207 with a status per property: 200 for all if it
// worked; otherwise 403 DAV:cannot-modify-protected-property for live
// properties and 424 for the rest, with nothing changed (RFC 4918 9.2).
// Windows expects exactly this rather than a plain 403.
func (h *Handler) proppatch(rq *request) {
	l := rq.l
	if l.virtual() || l.readOnly {
		h.status(rq.w, http.StatusForbidden)
		return
	}
	patches, err := davxml.ParseProppatch(h.body(rq))
	if err != nil {
		h.badBody(rq.w, err)
		return
	}
	unlock := h.serialize(l.vol)
	defer unlock()
	info, err := rq.stat(l)
	if err != nil {
		h.fail(rq, err)
		return
	}
	if info == nil {
		h.status(rq.w, http.StatusNotFound)
		return
	}
	if !h.precondition(rq, info, target{l: l}) {
		return
	}
	pstats := protectedFailures(patches)
	if pstats == nil {
		if err := l.vol.Props().Patch(rq.ctx, l.vol.ID(), l.path, patches); err != nil {
			h.fail(rq, err)
			return
		}
		ok := webdav.Propstat{Status: http.StatusOK}
		for _, pp := range patches {
			for _, p := range pp.Props {
				ok.Props = append(ok.Props, webdav.Property{XMLName: p.XMLName})
			}
		}
		pstats = []webdav.Propstat{ok}
	}
	rq.w.Header().Set("Content-Type", davxml.ContentType)
	rq.w.WriteHeader(http.StatusMultiStatus)
	ms := davxml.NewMultistatus(rq.w)
	ms.Response(l.href(info.IsDir()), pstats)
	ms.Close()
}

// protectedFailures returns the propstats of a PROPPATCH that touches a
// protected live property, or nil if it touches none.
func protectedFailures(patches []webdav.Proppatch) []webdav.Propstat {
	forbidden := webdav.Propstat{Status: http.StatusForbidden, XMLError: "<D:cannot-modify-protected-property/>"}
	failed := webdav.Propstat{Status: http.StatusFailedDependency}
	for _, pp := range patches {
		for _, p := range pp.Props {
			if lp, ok := findLive(p.XMLName); ok && lp.protected {
				forbidden.Props = append(forbidden.Props, webdav.Property{XMLName: p.XMLName})
			} else {
				failed.Props = append(failed.Props, webdav.Property{XMLName: p.XMLName})
			}
		}
	}
	if len(forbidden.Props) == 0 {
		return nil
	}
	out := []webdav.Propstat{forbidden}
	if len(failed.Props) > 0 {
		out = append(out, failed)
	}
	return out
}
