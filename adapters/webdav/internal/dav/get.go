package dav

import (
	"bytes"
	"html"
	"net/http"
	"strconv"
	"strings"

	"github.com/mycelium-go/mycelium/adapters/webdav/internal/davxml"
)

// ComplianceClasses is the DAV header value: RFC 4918 class 1, class 2
// (locking) and class 3 (RFC 4918 rather than RFC 2518 semantics).
const ComplianceClasses = "1, 2, 3"

func (h *Handler) options(rq *request) {
	info, err := rq.stat(rq.l)
	if err != nil {
		h.fail(rq, err)
		return
	}
	hd := rq.w.Header()
	hd.Set("DAV", ComplianceClasses)
	hd.Set("MS-Author-Via", "DAV")
	hd.Set("Allow", allowed(rq.l, info))
	if info != nil && !info.IsDir() {
		hd.Set("Accept-Ranges", "bytes")
	}
	h.status(rq.w, http.StatusOK)
}

// get serves GET and HEAD: file contents with ranges and conditionals,
// or a small HTML index for collections (for browsers).
func (h *Handler) get(rq *request) {
	if _, ok := h.checkIf(rq); !ok {
		return
	}
	if rq.l.virtual() {
		h.index(rq)
		return
	}
	f, info, err := rq.l.vol.Open(rq.ctx, rq.l.path)
	if err != nil {
		h.fail(rq, err)
		return
	}
	defer f.Close()
	if info.IsDir() {
		h.index(rq)
		return
	}
	hd := rq.w.Header()
	hd.Set("ETag", info.ETagValue())
	hd.Set("Content-Type", info.ContentTypeValue())
	// ServeContent answers Range (206), If-Range, If-Match,
	// If-None-Match (304) and the date conditionals.
	http.ServeContent(rq.w, rq.r, info.Name(), info.ModTime(), f)
}

// index writes an HTML listing of the collection at rq.l.
func (h *Handler) index(rq *request) {
	type entry struct {
		name string
		dir  bool
	}
	var entries []entry
	if rq.l.virtual() {
		for _, s := range rq.v.Shares {
			entries = append(entries, entry{s.Name, true})
		}
	} else {
		list, err := rq.l.vol.ReadDir(rq.ctx, rq.l.path)
		if err != nil {
			h.fail(rq, err)
			return
		}
		if rq.l.mount == "" && rq.l.path == "/" && rq.v.SharedDir != "" {
			entries = append(entries, entry{rq.v.SharedDir, true})
		}
		for _, i := range list {
			if rq.l.mount == "" && rq.l.path == "/" && i.Name() == rq.v.SharedDir {
				continue
			}
			entries = append(entries, entry{i.Name(), i.IsDir()})
		}
	}
	base := rq.l.url(rq.l.path)
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	var b bytes.Buffer
	title := html.EscapeString(base)
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title + "</title></head><body>\n<h1>" + title + "</h1>\n<ul>\n")
	if base != "/" {
		b.WriteString("<li><a href=\"../\">../</a></li>\n")
	}
	for _, e := range entries {
		name := e.name
		if e.dir {
			name += "/"
		}
		b.WriteString("<li><a href=\"" + html.EscapeString(davxml.Href(base+name)) + "\">" + html.EscapeString(name) + "</a></li>\n")
	}
	b.WriteString("</ul>\n</body></html>\n")
	hd := rq.w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(b.Len()))
	rq.w.WriteHeader(http.StatusOK)
	if rq.r.Method != http.MethodHead {
		rq.w.Write(b.Bytes())
	}
}
