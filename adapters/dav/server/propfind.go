package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/mycelium-go/mycelium/adapters/dav/davxml"
	"github.com/mycelium-go/mycelium/adapters/dav/store"
)

// readXML parses the request body; an empty body gives nil. The
// Content-Type is not checked: several clients send XML bodies without
// one.
func readXML(r *http.Request) (*davxml.Node, error) {
	n, err := davxml.Parse(r.Body, davxml.DefaultLimits)
	if errors.Is(err, davxml.ErrTooLarge) {
		return nil, errStatus(http.StatusRequestEntityTooLarge, "%v", err)
	} else if err != nil {
		return nil, errStatus(http.StatusBadRequest, "%v", err)
	}
	return n, nil
}

// depthOne reports whether a Depth header asks for members. Infinity
// (also the default) is served as 1: the tree below a collection is one
// level deep.
func depthOne(r *http.Request) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("Depth"))) {
	case "0":
		return false, nil
	case "1", "infinity", "":
		return true, nil
	}
	return false, errStatus(http.StatusBadRequest, "bad Depth header %q", r.Header.Get("Depth"))
}

// preferMinimal reports Prefer: return=minimal (RFC 8144) or Brief: t.
func preferMinimal(r *http.Request) bool {
	if strings.EqualFold(strings.TrimSpace(r.Header.Get("Brief")), "t") {
		return true
	}
	for _, p := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(p, ",") {
			if strings.EqualFold(strings.TrimSpace(part), "return=minimal") {
				return true
			}
		}
	}
	return false
}

func (h *Handler) propfind(w http.ResponseWriter, r *http.Request, t target, id identity) error {
	deep, err := depthOne(r)
	if err != nil {
		return err
	}
	root, err := readXML(r)
	if err != nil {
		return err
	}
	pf, err := davxml.ParsePropFind(root)
	if err != nil {
		return errStatus(http.StatusBadRequest, "%v", err)
	}
	sets, err := h.propSets(r.Context(), t, id, deep)
	if err != nil {
		return err
	}
	minimal := preferMinimal(r)
	resps := make([]davxml.Response, 0, len(sets))
	for _, s := range sets {
		resp, err := s.ps.response(s.href, pf, minimal)
		if err != nil {
			return err
		}
		resps = append(resps, resp)
	}
	h.writeMultistatus(w, resps, "")
	return nil
}

// hrefProps is a resource to describe: its href and properties.
type hrefProps struct {
	href string
	ps   *propSet
}

// propSets lists the resource t (and its members if deep) with their
// properties.
func (h *Handler) propSets(ctx context.Context, t target, id identity, deep bool) ([]hrefProps, error) {
	switch t.kind {
	case resRoot, resPrincipals, resHomes:
		out := []hrefProps{{t.href(), h.rootProps(t, id)}}
		if !deep {
			return out, nil
		}
		switch t.kind {
		case resRoot:
			for _, c := range []target{{kind: resPrincipals}, {kind: resHomes, ckind: store.Calendar}, {kind: resHomes, ckind: store.AddressBook}} {
				out = append(out, hrefProps{c.href(), h.rootProps(c, id)})
			}
		case resPrincipals:
			out = append(out, hrefProps{principalHref(id.principal), h.principalProps(id)})
		case resHomes:
			out = append(out, hrefProps{homeHref(t.ckind, id.principal), h.homeProps(t.ckind, id)})
		}
		return out, nil
	case resPrincipal:
		return []hrefProps{{t.href(), h.principalProps(id)}}, nil
	case resHome:
		out := []hrefProps{{t.href(), h.homeProps(t.ckind, id)}}
		if !deep {
			return out, nil
		}
		colls, err := h.st.Collections(ctx, id.principal, t.ckind)
		if err != nil {
			return nil, err
		}
		for _, c := range colls {
			out = append(out, hrefProps{collectionHref(c.Kind, c.Principal, c.Name), h.collectionProps(c, id)})
		}
		return out, nil
	case resCollection, resObject:
		return h.collectionSets(ctx, t, id, deep)
	}
	return nil, errNotFound
}

// collectionSets describes a calendar or address book (with its members
// if deep), or one object.
func (h *Handler) collectionSets(ctx context.Context, t target, id identity, deep bool) ([]hrefProps, error) {
	c, err := h.collection(ctx, t)
	if err != nil {
		return nil, err
	}
	if t.kind == resObject {
		o, err := h.st.Object(ctx, c.ID, t.obj)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNotFound
		} else if err != nil {
			return nil, err
		}
		data := func() (string, error) { return string(o.Data), nil }
		return []hrefProps{{t.href(), h.objectProps(c.Kind, &o.ObjectMeta, id, data)}}, nil
	}
	out := []hrefProps{{t.href(), h.collectionProps(c, id)}}
	if !deep {
		return out, nil
	}
	metas, err := h.st.ObjectMetas(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	for _, m := range metas {
		out = append(out, hrefProps{objectHref(c.Kind, c.Principal, c.Name, m.Name), h.objectProps(c.Kind, m, id, h.loader(ctx, c, m.Name))})
	}
	return out, nil
}

// loader reads an object's data on demand (only when calendar-data or
// address-data is asked for).
func (h *Handler) loader(ctx context.Context, c *store.Collection, name string) dataFunc {
	return func() (string, error) {
		o, err := h.st.Object(ctx, c.ID, name)
		if err != nil {
			return "", err
		}
		return string(o.Data), nil
	}
}

// collection loads the collection of t; 404 if it does not exist.
func (h *Handler) collection(ctx context.Context, t target) (*store.Collection, error) {
	c, err := h.st.Collection(ctx, t.owner, t.ckind, t.coll)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errStatus(http.StatusNotFound, "no collection %s", t.coll)
	}
	return c, err
}

// writeMultistatus answers 207 with resps (and a sync token if not
// empty). Once the status is sent, a write error can only be logged.
func (h *Handler) writeMultistatus(w http.ResponseWriter, resps []davxml.Response, syncToken string) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(http.StatusMultiStatus)
	mw := davxml.NewWriter(w)
	for _, r := range resps {
		mw.Response(r)
	}
	if syncToken != "" {
		mw.SyncToken(syncToken)
	}
	if err := mw.Close(); err != nil {
		h.log.Debug("write multistatus", "err", err)
	}
}
