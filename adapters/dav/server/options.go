package server

import (
	"net/http"
	"strings"

	"github.com/mycelium-go/mycelium/adapters/dav/store"
)

// davHeader advertises WebDAV classes 1 and 3 (no locking), CalDAV,
// CardDAV and extended MKCOL on every response.
const davHeader = "1, 3, extended-mkcol, calendar-access, addressbook"

// wellKnown redirects /.well-known/caldav and /.well-known/carddav to the
// context path "/" (RFC 6764). The Location is relative, so the client
// keeps its scheme, host and port, also behind a TLS proxy. 301 is the
// code every DAV client follows for PROPFIND; clients that drop the body
// on the way get allprop, which includes current-user-principal.
func (h *Handler) wellKnown(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Location", "/")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusMovedPermanently)
}

// options answers OPTIONS without authentication: the capabilities do
// not depend on who asks, and iOS probes them before sending credentials.
func (h *Handler) options(w http.ResponseWriter, t target) {
	w.Header().Set("Allow", strings.Join(allowed(t), ", "))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// allowed lists the methods a path supports.
func allowed(t target) []string {
	base := []string{http.MethodOptions, http.MethodGet, http.MethodHead, "PROPFIND"}
	switch t.kind {
	case resHome:
		if t.ckind == store.Calendar {
			return append(base, "MKCALENDAR", "MKCOL")
		}
		return append(base, "MKCOL")
	case resCollection:
		m := append(base, "PROPPATCH", "REPORT", "DELETE", "MKCOL")
		if t.ckind == store.Calendar {
			m = append(m, "MKCALENDAR")
		}
		return m
	case resObject:
		return append(base, http.MethodPut, http.MethodDelete, "REPORT")
	case resUnknown:
		return []string{http.MethodOptions}
	}
	return base
}
