package dav

import (
	"net/http"
	"time"

	"github.com/mycelium-go/mycelium/adapters/webdav/internal/davxml"
	"golang.org/x/net/webdav"
)

// maxWalkDepth bounds a Depth: infinity PROPFIND when it is allowed.
const maxWalkDepth = 64

// propfind answers PROPFIND with a streamed 207 multistatus. A Depth 1
// listing reads the directory once, stats each member once, fetches the
// dead properties of all members with one query and never opens a file.
func (h *Handler) propfind(rq *request) {
	depth, noRoot := parseDepth(rq.r.Header.Get("Depth"), depthInfinity)
	switch {
	case depth == depthInvalid:
		h.status(rq.w, http.StatusBadRequest)
		return
	case depth == depthInfinity && !h.cfg.AllowDepthInfinity:
		h.xmlError(rq.w, http.StatusForbidden, "<D:propfind-finite-depth/>")
		return
	}
	pf, err := davxml.ParsePropfind(h.body(rq))
	if err != nil {
		h.badBody(rq.w, err)
		return
	}
	if _, ok := h.checkIf(rq); !ok {
		return
	}
	root, members, ok := h.propfindTargets(rq, depth)
	if !ok {
		return
	}
	rq.w.Header().Set("Content-Type", davxml.ContentType)
	rq.w.WriteHeader(http.StatusMultiStatus)
	pc := &propCtx{h: h, rq: rq, now: time.Now(), quota: map[string][2]string{}}
	ms := davxml.NewMultistatus(rq.w)
	if !noRoot {
		ms.Response(href(root), pc.propstats(root, pf))
	}
	for _, m := range members {
		if err := ms.Response(href(m), pc.propstats(m, pf)); err != nil {
			return // client gone
		}
		if depth == depthInfinity && m.dir() {
			if err := h.walk(rq, pc, ms, m, pf, 1); err != nil {
				return
			}
		}
	}
	ms.Close()
}

// propfindTargets returns the resource a PROPFIND names and, unless
// depth is 0, its members with their dead properties. On failure it
// writes the response and returns false.
func (h *Handler) propfindTargets(rq *request, depth int) (res, []res, bool) {
	root := res{l: rq.l}
	if rq.l.virtual() {
		if info, err := rq.v.Home.Stat(rq.ctx, "/"); err == nil {
			root.mtime = info.ModTime()
		}
	} else {
		info, err := rq.stat(rq.l)
		if err != nil {
			h.fail(rq, err)
			return res{}, nil, false
		}
		if info == nil {
			h.status(rq.w, http.StatusNotFound)
			return res{}, nil, false
		}
		root.info = info
	}
	var members []res
	var err error
	if depth != depthZero && root.dir() {
		members, root.dead, err = h.members(rq, root.l)
	} else if !root.l.virtual() {
		root.dead, err = root.l.vol.Props().Get(rq.ctx, root.l.vol.ID(), root.l.path)
	}
	if err != nil {
		h.fail(rq, err)
		return res{}, nil, false
	}
	return root, members, true
}

// walk writes the responses below collection r for Depth: infinity.
func (h *Handler) walk(rq *request, pc *propCtx, ms *davxml.Multistatus, r res, pf davxml.Propfind, level int) error {
	if level > maxWalkDepth {
		return nil
	}
	members, _, err := h.members(rq, r.l)
	if err != nil {
		return nil // vanished meanwhile: nothing to list
	}
	for _, m := range members {
		if err := ms.Response(href(m), pc.propstats(m, pf)); err != nil {
			return err
		}
		if m.dir() {
			if err := h.walk(rq, pc, ms, m, pf, level+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func href(r res) string {
	return r.l.href(r.dir())
}

// members lists the members of collection l with their dead properties,
// and returns the dead properties of l itself.
func (h *Handler) members(rq *request, l loc) ([]res, []webdav.Property, error) {
	if l.virtual() {
		return h.shareRoots(rq), nil, nil
	}
	list, err := l.vol.ReadDir(rq.ctx, l.path)
	if err != nil {
		return nil, nil, err
	}
	dead, err := l.vol.Props().Children(rq.ctx, l.vol.ID(), l.path)
	if err != nil {
		return nil, nil, err
	}
	homeRoot := l.mount == "" && l.path == "/" && rq.v.SharedDir != ""
	out := make([]res, 0, len(list)+1)
	for _, info := range list {
		if homeRoot && info.Name() == rq.v.SharedDir {
			continue // hidden by the shared-folders collection
		}
		c := l.child(info.Name())
		out = append(out, res{l: c, info: info, dead: dead[c.path]})
	}
	if homeRoot {
		r := res{l: loc{path: rq.v.sharedRoot(), readOnly: true}}
		if info, err := l.vol.Stat(rq.ctx, "/"); err == nil {
			r.mtime = info.ModTime()
		}
		out = append(out, r)
	}
	return out, dead[l.path], nil
}

// shareRoots lists the shared folders of the view as collections.
func (h *Handler) shareRoots(rq *request) []res {
	var out []res
	for _, s := range rq.v.Shares {
		l := loc{vol: s.Volume, path: "/", mount: rq.v.sharedRoot() + "/" + s.Name, readOnly: s.ReadOnly, quota: s.Quota}
		info, err := s.Volume.Stat(rq.ctx, "/")
		if err != nil {
			h.log.Warn("webdav shared folder unavailable", "share", s.Name, "err", err)
			continue
		}
		dead, _ := s.Volume.Props().Get(rq.ctx, s.Volume.ID(), "/")
		out = append(out, res{l: l, info: info, dead: dead})
	}
	return out
}
