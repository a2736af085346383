package dav

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mycelium-go/mycelium/adapters/webdav/internal/davxml"
	"github.com/mycelium-go/mycelium/adapters/webdav/internal/ifheader"
	"github.com/mycelium-go/mycelium/adapters/webdav/internal/locks"
)

// lock creates a lock (exclusive or shared, depth 0 or infinity) or,
// with an empty body, refreshes the lock named in the If header (RFC
// 4918 9.10). Locking an unmapped URL creates an empty file (201).
// Finder only mounts a share writable when this works.
func (h *Handler) lock(rq *request) {
	l := rq.l
	if l.virtual() || l.readOnly {
		h.status(rq.w, http.StatusForbidden)
		return
	}
	timeout := parseTimeout(rq.r.Header.Get("Timeout"), h.cfg.DefaultLockTimeout, h.cfg.MaxLockTimeout)
	li, create, err := davxml.ParseLockInfo(h.body(rq))
	switch {
	case errors.Is(err, davxml.ErrUnsupportedLockType):
		h.status(rq.w, http.StatusUnprocessableEntity)
		return
	case err != nil:
		h.badBody(rq.w, err)
		return
	}
	if !create {
		h.refresh(rq, timeout)
		return
	}
	depth, _ := parseDepth(rq.r.Header.Get("Depth"), depthInfinity)
	if depth != depthZero && depth != depthInfinity {
		h.status(rq.w, http.StatusBadRequest)
		return
	}
	h.createLock(rq, li, depth == depthInfinity, timeout)
}

// createLock grants a new lock on rq.l, creating an empty resource if
// nothing is there.
func (h *Handler) createLock(rq *request, li davxml.LockInfo, infinite bool, timeout time.Duration) {
	l := rq.l
	unlock := h.serialize(l.vol)
	defer unlock()
	info, err := rq.stat(l)
	if err != nil {
		h.fail(rq, err)
		return
	}
	// A new lock conflicts through locks.Create; creating the empty
	// resource also changes the parent's membership.
	var targets []target
	if info == nil {
		targets = membership(l)
	}
	if !h.precondition(rq, info, targets...) {
		return
	}
	if info == nil {
		if pi, err := rq.stat(loc{vol: l.vol, path: parentPath(l.path)}); err != nil || pi == nil || !pi.IsDir() {
			h.status(rq.w, http.StatusConflict)
			return
		}
	}
	lk, err := h.cfg.Locks.Create(rq.ctx, locks.Lock{
		Volume: l.vol.ID(), Root: l.path, Infinite: infinite, Shared: li.Shared,
		Owner: li.Owner, Principal: rq.v.Principal, Timeout: timeout,
	})
	var conflict *locks.ConflictError
	if errors.As(err, &conflict) {
		h.xmlError(rq.w, http.StatusLocked, davxml.ConflictingLock(davxml.Href(l.url(conflict.Root))))
		return
	}
	if err != nil {
		h.fail(rq, err)
		return
	}
	code := http.StatusOK
	if info == nil {
		if err := h.createEmpty(rq); err != nil {
			h.cfg.Locks.Unlock(rq.ctx, lk.Token, lk.Volume, lk.Root, lk.Principal)
			h.fail(rq, err)
			return
		}
		code = http.StatusCreated
	}
	rq.w.Header().Set("Lock-Token", "<"+lk.Token+">")
	h.lockAnswer(rq, code, lk)
}

// createEmpty creates the empty file a LOCK on an unmapped URL leaves.
func (h *Handler) createEmpty(rq *request) error {
	w, err := rq.l.vol.Create(rq.ctx, rq.l.path)
	if err != nil {
		return err
	}
	_, err = w.Commit(rq.ctx)
	return err
}

// refresh restarts the timeout of the lock submitted in the If header.
func (h *Handler) refresh(rq *request, timeout time.Duration) {
	tokens, ok := h.checkIf(rq)
	if !ok {
		return
	}
	if rq.r.Header.Get("If") == "" || len(tokens) != 1 {
		h.status(rq.w, http.StatusBadRequest)
		return
	}
	lk, err := h.cfg.Locks.Refresh(rq.ctx, tokens[0], rq.l.vol.ID(), rq.l.path, rq.v.Principal, timeout)
	switch {
	case errors.Is(err, locks.ErrNoSuchLock), errors.Is(err, locks.ErrNotInScope):
		h.xmlError(rq.w, http.StatusPreconditionFailed, "<D:lock-token-matches-request-uri/>")
		return
	case errors.Is(err, locks.ErrForbidden):
		h.status(rq.w, http.StatusForbidden)
		return
	case err != nil:
		h.fail(rq, err)
		return
	}
	h.lockAnswer(rq, http.StatusOK, lk)
}

func (h *Handler) lockAnswer(rq *request, code int, lk locks.Lock) {
	body := davxml.LockResponse(davxml.ActiveLock{
		Shared: lk.Shared, Infinite: lk.Infinite, Owner: lk.Owner,
		Timeout: lk.Timeout, Token: lk.Token, RootHref: davxml.Href(rq.l.url(lk.Root)),
	})
	hd := rq.w.Header()
	hd.Set("Content-Type", davxml.ContentType)
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	rq.w.WriteHeader(code)
	rq.w.Write(body)
}

// unlock removes the lock named by the Lock-Token header: 204, 400
// without a token, 409 DAV:lock-token-matches-request-uri when the token
// names no lock covering the URL, 403 for another principal's lock.
func (h *Handler) unlock(rq *request) {
	tok := strings.TrimSpace(rq.r.Header.Get("Lock-Token"))
	if len(tok) < 3 || tok[0] != '<' || tok[len(tok)-1] != '>' {
		h.status(rq.w, http.StatusBadRequest)
		return
	}
	tok = tok[1 : len(tok)-1]
	if _, err := ifheader.Parse("(<" + tok + ">)"); err != nil {
		h.status(rq.w, http.StatusBadRequest)
		return
	}
	if rq.l.virtual() {
		h.xmlError(rq.w, http.StatusConflict, "<D:lock-token-matches-request-uri/>")
		return
	}
	err := h.cfg.Locks.Unlock(rq.ctx, tok, rq.l.vol.ID(), rq.l.path, rq.v.Principal)
	switch {
	case errors.Is(err, locks.ErrNoSuchLock), errors.Is(err, locks.ErrNotInScope):
		h.xmlError(rq.w, http.StatusConflict, "<D:lock-token-matches-request-uri/>")
	case errors.Is(err, locks.ErrForbidden):
		h.status(rq.w, http.StatusForbidden)
	case err != nil:
		h.fail(rq, err)
	default:
		h.status(rq.w, http.StatusNoContent)
	}
}
