package dav

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mycelium-go/mycelium/adapters/webdav/internal/davxml"
	"github.com/mycelium-go/mycelium/adapters/webdav/internal/ifheader"
	"github.com/mycelium-go/mycelium/adapters/webdav/internal/store"
)

// target is a resource whose locks a request must satisfy.
type target struct {
	l       loc
	subtree bool // everything below l changes too (DELETE, MOVE, overwrite)
}

// membership returns the target for the collection holding l: creating
// or removing l changes that collection's membership, which a lock on
// the collection protects (RFC 4918 section 7.4).
func membership(l loc) []target {
	if l.virtual() || l.path == "/" {
		return nil
	}
	p := l
	p.path = parentPath(l.path)
	return []target{{l: p}}
}

func parentPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// precondition runs the checks of a request that changes info's
// resource, in RFC 4918 order: the If header (400 if malformed, 412 if
// false), the HTTP conditionals If-Match, If-None-Match and
// If-Unmodified-Since (412), then the locks on targets (423). On failure
// it writes the response and returns false.
func (h *Handler) precondition(rq *request, info *store.Info, targets ...target) bool {
	tokens, ok := h.checkIf(rq)
	if !ok {
		return false
	}
	if !httpConditions(rq.r, info) {
		h.status(rq.w, http.StatusPreconditionFailed)
		return false
	}
	return h.checkLocks(rq, tokens, targets...)
}

// checkIf evaluates the If header and returns the lock tokens it
// submits. On failure it writes 400 or 412 and returns false.
func (h *Handler) checkIf(rq *request) ([]string, bool) {
	hdr := rq.r.Header.Get("If")
	if hdr == "" {
		return nil, true
	}
	ih, err := ifheader.Parse(hdr)
	if err != nil {
		h.status(rq.w, http.StatusBadRequest)
		return nil, false
	}
	for _, l := range ih.Lists {
		if h.listHolds(rq, l) {
			return ih.Tokens(), true
		}
	}
	h.status(rq.w, http.StatusPreconditionFailed)
	return nil, false
}

// listHolds evaluates one list of an If header. A tagged list applies to
// the resource its tag names; only the tag's path counts, so a proxy or
// port forward that rewrites the Host header does not make every tagged
// list fail (tailscale/tailscale#12097).
func (h *Handler) listHolds(rq *request, list ifheader.List) bool {
	res, exists := rq.l, true
	if list.Tag != "" {
		p, ok := tagPath(list.Tag)
		if ok {
			var err error
			res, err = rq.v.resolve(p)
			exists = err == nil
		} else {
			exists = false
		}
	}
	etag, etagDone := "", false
	for _, c := range list.Conditions {
		match := false
		switch {
		case !exists || res.virtual():
		case c.Token != "":
			lk, ok := h.cfg.Locks.Lookup(c.Token)
			match = ok && lk.Volume == res.vol.ID() && lk.Covers(res.path)
		default:
			if !etagDone {
				if info, err := rq.stat(res); err == nil && info != nil && !info.IsDir() {
					etag = info.ETagValue()
				}
				etagDone = true
			}
			match = etag != "" && opaque(c.ETag) == opaque(etag)
		}
		if c.Not {
			match = !match
		}
		if !match {
			return false
		}
	}
	return true
}

// tagPath returns the URL path of an If header resource tag (an absolute
// URL or an absolute path).
func tagPath(tag string) (string, bool) {
	u, err := url.Parse(tag)
	if err != nil {
		return "", false
	}
	return cleanPath(u.Path)
}

// opaque strips the weakness indicator from an entity tag.
func opaque(etag string) string { return strings.TrimPrefix(etag, "W/") }

// httpConditions evaluates If-Match, If-Unmodified-Since and
// If-None-Match for a state-changing request (RFC 9110 section 13.2.2).
// Collections have no entity tag, so only "*" matches them.
func httpConditions(r *http.Request, info *store.Info) bool {
	etag := ""
	if info != nil && !info.IsDir() {
		etag = info.ETagValue()
	}
	if im := r.Header.Get("If-Match"); im != "" {
		if info == nil || !matchList(im, etag, true) {
			return false
		}
	} else if ius := r.Header.Get("If-Unmodified-Since"); ius != "" && info != nil {
		if t, err := http.ParseTime(ius); err == nil && info.ModTime().Truncate(time.Second).After(t) {
			return false
		}
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && info != nil && matchList(inm, etag, false) {
		return false
	}
	return true
}

// matchList reports whether an If-Match or If-None-Match value matches
// the resource: "*" matches any existing resource; otherwise etag must be
// in the list, compared strongly or weakly.
func matchList(list, etag string, strong bool) bool {
	if strings.TrimSpace(list) == "*" {
		return true
	}
	if etag == "" {
		return false
	}
	for _, t := range splitETags(list) {
		if strong && (strings.HasPrefix(t, "W/") || strings.HasPrefix(etag, "W/")) {
			continue
		}
		if opaque(t) == opaque(etag) {
			return true
		}
	}
	return false
}

// splitETags splits a comma-separated list of entity tags, keeping
// commas inside quotes.
func splitETags(s string) []string {
	var out []string
	for s != "" {
		s = strings.TrimLeft(s, " \t\r\n,")
		if s == "" {
			break
		}
		start := 0
		if strings.HasPrefix(s, "W/") {
			start = 2
		}
		end := len(s)
		if start < len(s) && s[start] == '"' {
			if i := strings.IndexByte(s[start+1:], '"'); i >= 0 {
				end = start + i + 2
			}
		} else if i := strings.IndexByte(s, ','); i >= 0 {
			end = i
		}
		if tag := strings.TrimSpace(s[:end]); tag != "" {
			out = append(out, tag)
		}
		s = s[end:]
	}
	return out
}

// checkLocks verifies that the submitted tokens unlock every target. On
// failure it writes 423 Locked naming the blocking lock's root.
func (h *Handler) checkLocks(rq *request, tokens []string, targets ...target) bool {
	for _, t := range targets {
		if t.l.virtual() {
			continue
		}
		b := h.cfg.Locks.Check(t.l.vol.ID(), t.l.path, t.subtree, tokens, rq.v.Principal)
		if b != nil {
			h.xmlError(rq.w, http.StatusLocked,
				"<D:lock-token-submitted><D:href>"+davxml.Href(t.l.url(b.Root))+"</D:href></D:lock-token-submitted>")
			return false
		}
	}
	return true
}
