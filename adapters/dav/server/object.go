package server

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"

	"github.com/mycelium-go/mycelium/adapters/dav/calendar"
	"github.com/mycelium-go/mycelium/adapters/dav/contacts"
	"github.com/mycelium-go/mycelium/adapters/dav/davxml"
	"github.com/mycelium-go/mycelium/adapters/dav/store"
)

func (h *Handler) get(w http.ResponseWriter, r *http.Request, t target) error {
	if t.kind != resObject {
		if t.kind == resCollection {
			if _, err := h.collection(r.Context(), t); err != nil {
				return err
			}
		}
		body := "Mycelium CalDAV/CardDAV server. Use a CalDAV or CardDAV client with this URL.\n"
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, body)
		}
		return nil
	}
	c, err := h.collection(r.Context(), t)
	if err != nil {
		return err
	}
	o, err := h.st.Object(r.Context(), c.ID, t.obj)
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	} else if err != nil {
		return err
	}
	check, err := conditions(r)
	if err != nil {
		return err
	}
	etag := quoteETag(o.ETag)
	w.Header().Set("ETag", etag)
	w.Header().Set("Last-Modified", o.Modified.UTC().Format(http.TimeFormat))
	if check != nil {
		if err := check(&o.ObjectMeta); err != nil {
			if r.Header.Get("If-None-Match") != "" {
				w.WriteHeader(http.StatusNotModified)
				return nil
			}
			return err
		}
	}
	w.Header().Set("Content-Type", contentType(c.Kind))
	w.Header().Set("Content-Length", strconv.Itoa(len(o.Data)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(o.Data)
	}
	return nil
}

// validated is a PUT body that passed the checks of its collection kind.
type validated struct {
	uid, component string
	bounds         store.Bounds
}

func (h *Handler) put(w http.ResponseWriter, r *http.Request, t target) error {
	if t.kind != resObject {
		w.Header().Set("Allow", "OPTIONS, GET, HEAD, PROPFIND")
		return errStatus(http.StatusMethodNotAllowed, "PUT is only for calendar objects and vCards")
	}
	c, err := h.collection(r.Context(), t)
	if he := (*httpError)(nil); errors.As(err, &he) && he.code == http.StatusNotFound {
		return errStatus(http.StatusConflict, "no collection %s to put into", t.coll)
	} else if err != nil {
		return err
	}
	check, err := conditions(r)
	if err != nil {
		return err
	}
	data, err := h.readBody(r, c.Kind)
	if err != nil {
		return err
	}
	v, err := validate(c, r.Header.Get("Content-Type"), data)
	if err != nil {
		return err
	}
	res, err := h.st.PutObject(r.Context(), c.ID, store.ObjectInput{
		Name: t.obj, UID: v.uid, Component: v.component, Data: data, Bounds: v.bounds,
	}, check)
	var uc *store.UIDConflictError
	switch {
	case errors.As(err, &uc):
		space := davxml.NSCalDAV
		if c.Kind == store.AddressBook {
			space = davxml.NSCardDAV
		}
		he := errCond(http.StatusConflict, space, "no-uid-conflict", "UID %q is used by %s", v.uid, uc.Name)
		he.inner = davxml.Href(objectHref(c.Kind, c.Principal, c.Name, uc.Name))
		return he
	case err != nil:
		return err
	}
	// The data is stored byte for byte, so the ETag is valid for what a
	// GET returns (RFC 4791 5.3.4).
	w.Header().Set("ETag", quoteETag(res.ETag))
	w.Header().Set("Content-Length", "0")
	if res.Created {
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

func (h *Handler) readBody(r *http.Request, k store.Kind) ([]byte, error) {
	max := h.cfg.MaxResourceSize
	tooBig := func() error {
		space := davxml.NSCalDAV
		if k == store.AddressBook {
			space = davxml.NSCardDAV
		}
		return errCond(http.StatusForbidden, space, "max-resource-size", "object larger than %d bytes", max)
	}
	if r.ContentLength > max {
		return nil, tooBig()
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, errStatus(http.StatusBadRequest, "read body: %v", err)
	}
	if int64(len(data)) > max {
		return nil, tooBig()
	}
	return data, nil
}

// validate checks a PUT body against its collection: media type, syntax
// and, for calendars, the supported component set.
func validate(c *store.Collection, ctype string, data []byte) (validated, error) {
	mt := ""
	if ctype != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ctype); err != nil {
			return validated{}, errStatus(http.StatusBadRequest, "bad Content-Type %q", ctype)
		}
	}
	if c.Kind == store.AddressBook {
		if mt != "" && mt != "text/vcard" && mt != "text/x-vcard" && mt != "text/directory" {
			return validated{}, errCond(http.StatusForbidden, davxml.NSCardDAV, "supported-address-data", "media type %s", mt)
		}
		card, err := contacts.Parse(data)
		var ve *contacts.ValidationError
		if errors.As(err, &ve) {
			return validated{}, errCond(http.StatusForbidden, davxml.NSCardDAV, ve.Cond, "%s", ve.Msg)
		} else if err != nil {
			return validated{}, err
		}
		return validated{uid: card.UID}, nil
	}
	if mt != "" && mt != "text/calendar" {
		return validated{}, errCond(http.StatusForbidden, davxml.NSCalDAV, "supported-calendar-data", "media type %s", mt)
	}
	obj, err := calendar.Parse(data)
	var ve *calendar.ValidationError
	if errors.As(err, &ve) {
		return validated{}, errCond(http.StatusForbidden, davxml.NSCalDAV, ve.Cond, "%s", ve.Msg)
	} else if err != nil {
		return validated{}, err
	}
	if !slices.Contains(c.Components, obj.Component) {
		return validated{}, errCond(http.StatusForbidden, davxml.NSCalDAV, calendar.CondSupportedComp,
			"calendar %s does not take %s", c.Name, obj.Component)
	}
	v := validated{uid: obj.UID, component: obj.Component}
	start, end, hasStart, hasEnd := obj.Bounds()
	v.bounds = store.Bounds{Start: start.Unix(), End: end.Unix(), HasStart: hasStart, HasEnd: hasEnd}
	return v, nil
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request, t target) error {
	switch t.kind {
	case resCollection:
		c, err := h.collection(r.Context(), t)
		if err != nil {
			return err
		}
		if err := h.st.DeleteCollection(r.Context(), c.ID); err != nil {
			return err
		}
		h.log.Info("collection deleted", "principal", c.Principal, "kind", c.Kind.String(), "name", c.Name)
	case resObject:
		c, err := h.collection(r.Context(), t)
		if err != nil {
			return err
		}
		check, err := conditions(r)
		if err != nil {
			return err
		}
		err = h.st.DeleteObject(r.Context(), c.ID, t.obj, check)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound
		} else if err != nil {
			return err
		}
	default:
		return errStatus(http.StatusForbidden, "%s cannot be deleted", t.href())
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
