package dav

import (
	"errors"
	"net/http"

	"github.com/mycelium-go/mycelium/adapters/webdav/internal/locks"
	"github.com/mycelium-go/mycelium/adapters/webdav/internal/store"
)

// copyMove handles COPY and MOVE (RFC 4918 9.8 and 9.9): 201 for a new
// destination, 204 for an overwritten one, 412 when the destination
// exists and Overwrite is F, 409 when its parent is missing, 403 for
// the same resource or overlapping source and destination. Dead
// properties go along; locks do not (the source's are dropped on MOVE).
// Between volumes (home and shared folders) MOVE copies then deletes.
func (h *Handler) copyMove(rq *request) {
	move := rq.r.Method == "MOVE"
	src := rq.l
	dst, overwrite, deep, code := copyMoveArgs(rq, move)
	if code != 0 {
		h.status(rq.w, code)
		return
	}
	unlock := h.serialize(src.vol, dst.vol)
	defer unlock()
	srcInfo, err := rq.stat(src)
	if err != nil {
		h.fail(rq, err)
		return
	}
	if srcInfo == nil {
		h.status(rq.w, http.StatusNotFound)
		return
	}
	dstInfo, err := rq.stat(dst)
	if err != nil {
		h.fail(rq, err)
		return
	}
	targets := append([]target{{l: dst, subtree: true}}, membership(dst)...)
	if move {
		targets = append(targets, target{l: src, subtree: true})
		targets = append(targets, membership(src)...)
	}
	if !h.precondition(rq, srcInfo, targets...) {
		return
	}
	if dstInfo != nil && !overwrite {
		h.status(rq.w, http.StatusPreconditionFailed)
		return
	}
	if pi, err := rq.stat(loc{vol: dst.vol, path: parentPath(dst.path)}); err != nil || pi == nil || !pi.IsDir() {
		h.status(rq.w, http.StatusConflict)
		return
	}
	if dstInfo != nil {
		if err := h.remove(rq, dst); err != nil {
			h.fail(rq, err)
			return
		}
	}
	if err := h.transfer(rq, src, dst, move, deep); err != nil {
		h.fail(rq, err)
		return
	}
	if dstInfo == nil {
		h.status(rq.w, http.StatusCreated)
	} else {
		h.status(rq.w, http.StatusNoContent)
	}
}

// copyMoveArgs parses the Destination, Overwrite and Depth headers and
// checks that the operation is allowed at all; code is the error status,
// 0 if none.
func copyMoveArgs(rq *request, move bool) (dst loc, overwrite, deep bool, code int) {
	src := rq.l
	dstPath, ok := destinationPath(rq.r.Header.Get("Destination"))
	if !ok {
		return loc{}, false, false, http.StatusBadRequest
	}
	dst, err := rq.v.resolve(dstPath)
	if err != nil {
		return loc{}, false, false, http.StatusForbidden
	}
	overwrite, ok = parseOverwrite(rq.r.Header.Get("Overwrite"))
	if !ok {
		return loc{}, false, false, http.StatusBadRequest
	}
	depth, _ := parseDepth(rq.r.Header.Get("Depth"), depthInfinity)
	if depth != depthInfinity && (move || depth != depthZero) {
		return loc{}, false, false, http.StatusBadRequest
	}
	if src.virtual() || dst.virtual() || dst.readOnly || dst.isMountRoot() ||
		(move && (src.readOnly || src.isMountRoot())) || overlaps(src, dst) {
		return loc{}, false, false, http.StatusForbidden
	}
	return dst, overwrite, depth == depthInfinity, 0
}

// transfer copies or moves src to dst, which does not exist.
func (h *Handler) transfer(rq *request, src, dst loc, move, deep bool) error {
	if move && src.vol == dst.vol {
		if err := src.vol.Rename(rq.ctx, src.path, dst.path); err != nil {
			return err
		}
		return h.cfg.Locks.RemoveSubtree(rq.ctx, src.vol.ID(), src.path)
	}
	room, err := h.room(rq, dst, 0)
	if err != nil {
		return err
	}
	if _, err := store.Copy(rq.ctx, src.vol, src.path, dst.vol, dst.path, deep, room); err != nil {
		if errors.Is(err, store.ErrQuota) {
			// Leave no half copy behind.
			h.remove(rq, dst)
		}
		return err
	}
	if move {
		return h.remove(rq, src)
	}
	return nil
}

// overlaps reports whether src and dst are the same resource or one
// contains the other, in which case the operation would destroy its own
// source.
func overlaps(src, dst loc) bool {
	if src.vol != dst.vol {
		return false
	}
	return src.path == dst.path || locks.IsDescendant(dst.path, src.path) || locks.IsDescendant(src.path, dst.path)
}
