package dav

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
)

// mkcol creates a collection: 201, 405 if something exists there, 409
// if the parent is missing, 415 for a request body (RFC 4918 9.3).
func (h *Handler) mkcol(rq *request) {
	l := rq.l
	if l.virtual() || l.isMountRoot() {
		h.status(rq.w, http.StatusMethodNotAllowed)
		return
	}
	if l.readOnly {
		h.status(rq.w, http.StatusForbidden)
		return
	}
	if hasBody(rq.r) {
		h.status(rq.w, http.StatusUnsupportedMediaType)
		return
	}
	unlock := h.serialize(l.vol)
	defer unlock()
	info, err := rq.stat(l)
	if err != nil {
		h.fail(rq, err)
		return
	}
	if info != nil {
		rq.w.Header().Set("Allow", allowed(l, info))
		h.status(rq.w, http.StatusMethodNotAllowed)
		return
	}
	if !h.precondition(rq, nil, append([]target{{l: l}}, membership(l)...)...) {
		return
	}
	if err := l.vol.Mkdir(rq.ctx, l.path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			h.status(rq.w, http.StatusMethodNotAllowed)
			return
		}
		h.fail(rq, err)
		return
	}
	h.status(rq.w, http.StatusCreated)
}

// hasBody reports whether the request carries a non-empty body, reading
// at most one byte of a chunked one.
func hasBody(r *http.Request) bool {
	if r.ContentLength > 0 {
		return true
	}
	if r.ContentLength == 0 || r.Body == nil {
		return false
	}
	var b [1]byte
	n, _ := io.ReadFull(r.Body, b[:])
	return n > 0
}

// delete removes a resource and everything below it, its dead
// properties and the locks rooted in it: 204, 404, 423.
func (h *Handler) delete(rq *request) {
	l := rq.l
	if l.virtual() || l.isMountRoot() || l.readOnly {
		h.status(rq.w, http.StatusForbidden)
		return
	}
	if d, _ := parseDepth(rq.r.Header.Get("Depth"), depthInfinity); d != depthInfinity {
		h.status(rq.w, http.StatusBadRequest)
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
	targets := append([]target{{l: l, subtree: true}}, membership(l)...)
	if !h.precondition(rq, info, targets...) {
		return
	}
	if err := h.remove(rq, l); err != nil {
		h.fail(rq, err)
		return
	}
	h.status(rq.w, http.StatusNoContent)
}

// remove deletes the resource at l with its properties and locks.
func (h *Handler) remove(rq *request, l loc) error {
	if err := l.vol.RemoveAll(rq.ctx, l.path); err != nil {
		return err
	}
	return h.cfg.Locks.RemoveSubtree(rq.ctx, l.vol.ID(), l.path)
}
