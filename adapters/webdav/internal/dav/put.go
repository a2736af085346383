package dav

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/mycelium-go/mycelium/adapters/webdav/internal/store"
)

// put stores the request body at the resource, streaming it to a
// temporary file (chunked bodies without Content-Length included) and
// renaming it into place once it is complete and fsync'd: readers see
// the old or the new content, never a part. 201 for a new resource,
// 204 for a replaced one, with the new ETag.
func (h *Handler) put(rq *request) {
	l := rq.l
	if l.virtual() || l.readOnly {
		h.status(rq.w, http.StatusForbidden)
		return
	}
	if rq.r.Header.Get("Content-Range") != "" {
		// Partial PUT is not supported; RFC 9110 section 14.5 asks for 400.
		h.status(rq.w, http.StatusBadRequest)
		return
	}
	info, err := rq.stat(l)
	if err != nil {
		h.fail(rq, err)
		return
	}
	if l.isMountRoot() || (info != nil && info.IsDir()) {
		rq.w.Header().Set("Allow", allowed(l, info))
		h.status(rq.w, http.StatusMethodNotAllowed)
		return
	}
	// Check before reading what may be gigabytes.
	if !h.precondition(rq, info, putTargets(l, info)...) {
		return
	}
	var old int64
	if info != nil {
		old = info.Size()
	}
	room, err := h.room(rq, l, old)
	if err != nil {
		h.fail(rq, err)
		return
	}
	if room >= 0 && expectedLength(rq.r) > room {
		h.fail(rq, store.ErrQuota)
		return
	}
	w, err := l.vol.Create(rq.ctx, l.path)
	if err != nil {
		h.fail(rq, err)
		return
	}
	defer w.Abort()
	if room >= 0 {
		w.SetLimit(room)
	}
	if _, err := io.Copy(w, rq.r.Body); err != nil {
		if errors.Is(err, store.ErrQuota) {
			h.fail(rq, err)
		} else {
			h.status(rq.w, http.StatusBadRequest) // body cut short
		}
		return
	}
	h.commitPut(rq, w)
}

// commitPut checks the preconditions again, now under the volume's
// mutex, and moves the uploaded file into place.
func (h *Handler) commitPut(rq *request, w *store.Writer) {
	l := rq.l
	unlock := h.serialize(l.vol)
	defer unlock()
	info, err := rq.stat(l)
	if err != nil {
		h.fail(rq, err)
		return
	}
	if info != nil && info.IsDir() {
		h.status(rq.w, http.StatusMethodNotAllowed)
		return
	}
	if !h.precondition(rq, info, putTargets(l, info)...) {
		return
	}
	done, err := w.Commit(rq.ctx)
	if err != nil {
		h.fail(rq, err)
		return
	}
	hd := rq.w.Header()
	hd.Set("ETag", done.ETagValue())
	hd.Set("Last-Modified", done.ModTime().UTC().Format(http.TimeFormat))
	if info == nil {
		h.status(rq.w, http.StatusCreated)
	} else {
		h.status(rq.w, http.StatusNoContent)
	}
}

// expectedLength is the body size announced by Content-Length or, for a
// chunked body, by Finder's X-Expected-Entity-Length; -1 if unknown.
func expectedLength(r *http.Request) int64 {
	if r.ContentLength >= 0 {
		return r.ContentLength
	}
	if n, err := strconv.ParseInt(r.Header.Get("X-Expected-Entity-Length"), 10, 64); err == nil && n >= 0 {
		return n
	}
	return -1
}

// putTargets are the locks a PUT must satisfy: the resource, and the
// parent's membership when the resource is new.
func putTargets(l loc, info *store.Info) []target {
	t := []target{{l: l}}
	if info == nil {
		t = append(t, membership(l)...)
	}
	return t
}

// room returns how many bytes may still be stored in l's volume when
// the request frees reclaim bytes; -1 means no quota applies (the disk
// itself still can fill up, which gives 507 too).
func (h *Handler) room(rq *request, l loc, reclaim int64) (int64, error) {
	if l.quota <= 0 {
		return -1, nil
	}
	used, err := l.vol.Usage(rq.ctx)
	if err != nil {
		return 0, err
	}
	return max(0, l.quota-used+reclaim), nil
}
