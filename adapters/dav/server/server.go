// Package server is the CalDAV and CardDAV HTTP handler of the DAV
// plugin.
//
// It implements the DAV protocol layer itself on top of package davxml,
// with iCalendar and vCard semantics from packages calendar and contacts
// and storage in package store: discovery (.well-known, principals, home
// sets), PROPFIND, PROPPATCH, MKCOL (RFC 5689), MKCALENDAR, GET, PUT,
// DELETE with strong ETags and conditional requests, the calendar-query,
// calendar-multiget, addressbook-query, addressbook-multiget and
// sync-collection (RFC 6578) reports. go-webdav v0.6.0's server lacks
// most of these (see docs/dav.md), so it serves here only as the test
// client.
//
// Identity comes from the connection (sdk.PeerFromContext): overlay
// peers are principals by public key, loopback clients log in with HTTP
// Basic against local accounts. Every principal sees only its own
// collections.
package server

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mycelium-go/mycelium/adapters/dav/store"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Defaults name the collections a new principal gets.
type Defaults struct {
	CalendarName        string // URL segment; never "default" (iOS hides it)
	CalendarDisplayName string
	CalendarColor       string // e.g. "#3A87ADFF"; empty for none
	AddressBookName     string
	AddressBookDisplay  string
}

// Config configures a Handler.
type Config struct {
	Store  *store.Store
	Logger *slog.Logger
	// Links maps overlay keys to local account names: a linked peer acts
	// as that account's principal.
	Links map[sdk.PublicKey]string
	// Realm is the HTTP Basic realm.
	Realm string
	// MaxResourceSize bounds one calendar object or vCard, in bytes.
	MaxResourceSize int64
	Defaults        Defaults
}

// Handler serves CalDAV and CardDAV.
type Handler struct {
	cfg  Config
	log  *slog.Logger
	st   *store.Store
	auth *authenticator

	// known remembers when a principal was last seen to exist (a
	// time.Time per id), so provisioning costs one query per minute; the
	// expiry picks up principals purged by `mycelium dav deluser --purge`.
	known sync.Map
}

// New validates cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("server: nil store")
	case cfg.Logger == nil:
		return nil, errors.New("server: nil logger")
	case cfg.MaxResourceSize <= 0:
		return nil, errors.New("server: MaxResourceSize must be positive")
	case !validCollectionName(cfg.Defaults.CalendarName) || !validCollectionName(cfg.Defaults.AddressBookName):
		return nil, errors.New("server: invalid default collection names")
	case strings.EqualFold(cfg.Defaults.CalendarName, "default"):
		return nil, errors.New(`server: the default calendar must not be named "default" (iOS hides it)`)
	}
	for k, name := range cfg.Links {
		if !ValidAccountName(name) {
			return nil, errors.New("server: link of key " + k.String() + ": invalid account name " + name)
		}
	}
	if cfg.Realm == "" {
		cfg.Realm = "Mycelium DAV"
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, st: cfg.Store}
	h.auth = newAuthenticator(cfg.Store, cfg.Links, cfg.Realm)
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	h.serve(rec, r)
	h.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.code,
		"depth", r.Header.Get("Depth"), "dur", time.Since(start))
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("DAV", davHeader)
	if p := strings.TrimSuffix(r.URL.Path, "/"); p == "/.well-known/caldav" || p == "/.well-known/carddav" {
		h.wellKnown(w, r)
		return
	}
	t := parsePath(r.URL.EscapedPath())
	if r.Method == http.MethodOptions {
		h.options(w, t)
		return
	}
	if t.kind == resUnknown {
		h.fail(w, r, errNotFound)
		return
	}
	id, err := h.auth.authenticate(r)
	if err != nil {
		var he *httpError
		if errors.As(err, &he) && he.code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+h.cfg.Realm+`", charset="UTF-8"`)
		}
		h.fail(w, r, err)
		return
	}
	if err := h.ensurePrincipal(r, id); err != nil {
		h.fail(w, r, err)
		return
	}
	if t.owner != "" && t.owner != id.principal {
		h.fail(w, r, errStatus(http.StatusForbidden, "%s belongs to another principal", r.URL.Path))
		return
	}
	if err := h.dispatch(w, r, t, id); err != nil {
		h.fail(w, r, err)
	}
}

func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request, t target, id identity) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return h.get(w, r, t)
	case http.MethodPut:
		return h.put(w, r, t)
	case http.MethodDelete:
		return h.delete(w, r, t)
	case "PROPFIND":
		return h.propfind(w, r, t, id)
	case "PROPPATCH":
		return h.proppatch(w, r, t)
	case "MKCOL":
		return h.mkcol(w, r, t, false)
	case "MKCALENDAR":
		return h.mkcol(w, r, t, true)
	case "REPORT":
		return h.report(w, r, t, id)
	}
	w.Header().Set("Allow", strings.Join(allowed(t), ", "))
	return errStatus(http.StatusMethodNotAllowed, "method %s not supported", r.Method)
}

// ensurePrincipal provisions a principal on first contact with its
// default calendar and address book.
func (h *Handler) ensurePrincipal(r *http.Request, id identity) error {
	if t, ok := h.known.Load(id.principal); ok && time.Since(t.(time.Time)) < knownTTL {
		return nil
	}
	d := h.cfg.Defaults
	cal := store.NewCollection{Kind: store.Calendar, Name: d.CalendarName, Components: []string{"VEVENT", "VTODO"}}
	if d.CalendarDisplayName != "" {
		cal.Props = append(cal.Props, textProp(pnDisplayName, d.CalendarDisplayName))
	}
	if d.CalendarColor != "" {
		cal.Props = append(cal.Props, textProp(pnCalendarColor, d.CalendarColor))
	}
	book := store.NewCollection{Kind: store.AddressBook, Name: d.AddressBookName}
	if d.AddressBookDisplay != "" {
		book.Props = append(book.Props, textProp(pnDisplayName, d.AddressBookDisplay))
	}
	created, err := h.st.EnsurePrincipal(r.Context(), id.principal, []store.NewCollection{cal, book})
	if err != nil {
		return err
	}
	if created {
		h.log.Info("new principal", "principal", id.principal)
	}
	h.known.Store(id.principal, time.Now())
	return nil
}

const knownTTL = time.Minute

type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.code, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wroteHeader = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

var _ http.Handler = (*Handler)(nil)
