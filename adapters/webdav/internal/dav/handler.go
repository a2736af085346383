// Package dav is the WebDAV protocol handler: RFC 4918 classes 1, 2 and
// 3 with exclusive and shared locks, RFC 4331 quota properties, and the
// HTTP conditional requests of RFC 9110, over the confined volumes of
// package store.
//
// The handler serves one principal's View per request; authentication
// and the mapping from identity to View happen before it is called.
//
// Requests that change a volume are checked and applied under that
// volume's mutex, so a precondition (If header, lock, ETag) cannot change
// between its check and the change. Reads (GET, PROPFIND) take no mutex
// and never wait for writers. PUT streams its body to a temporary file
// before taking the mutex, and checks its preconditions both before
// reading the body and again before committing.
package dav

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mycelium-go/mycelium/adapters/webdav/internal/davxml"
	"github.com/mycelium-go/mycelium/adapters/webdav/internal/locks"
	"github.com/mycelium-go/mycelium/adapters/webdav/internal/store"
)

// Config configures a Handler.
type Config struct {
	Locks  *locks.Manager
	Logger *slog.Logger
	// DefaultLockTimeout applies to a LOCK without a Timeout header.
	DefaultLockTimeout time.Duration
	// MaxLockTimeout caps requested timeouts, Infinite included.
	MaxLockTimeout time.Duration
	// AllowDepthInfinity permits PROPFIND with Depth: infinity, which
	// walks whole trees; without it such requests get 403 with
	// DAV:propfind-finite-depth.
	AllowDepthInfinity bool
	// MaxXMLBody limits PROPFIND, PROPPATCH and LOCK bodies (413 beyond).
	MaxXMLBody int64
	// HideQuota leaves the RFC 4331 quota properties undefined, for
	// clients that stall on them (some macOS releases).
	HideQuota bool
}

// Handler serves WebDAV requests. It is safe for concurrent use.
type Handler struct {
	cfg  Config
	log  *slog.Logger
	vols sync.Map // volume id -> *sync.Mutex
}

// New validates cfg and returns a handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Locks == nil || cfg.Logger == nil {
		return nil, errors.New("dav: config needs Locks and Logger")
	}
	if cfg.DefaultLockTimeout <= 0 || cfg.MaxLockTimeout < cfg.DefaultLockTimeout {
		return nil, errors.New("dav: need 0 < DefaultLockTimeout <= MaxLockTimeout")
	}
	if cfg.MaxXMLBody <= 0 {
		cfg.MaxXMLBody = 1 << 20
	}
	return &Handler{cfg: cfg, log: cfg.Logger}, nil
}

// ServeDAV handles r for the principal whose view is v.
func (h *Handler) ServeDAV(w http.ResponseWriter, r *http.Request, v *View) {
	if strings.Contains(r.RequestURI, "#") {
		h.status(w, http.StatusBadRequest)
		return
	}
	urlPath := r.URL.Path
	if r.Method == http.MethodOptions && urlPath == "*" {
		urlPath = "/" // OPTIONS * asks about the server
	}
	p, ok := cleanPath(urlPath)
	if !ok {
		h.status(w, http.StatusBadRequest)
		return
	}
	l, err := v.resolve(p)
	if err != nil {
		if errors.Is(err, errNoShare) && isWrite(r.Method) {
			h.status(w, http.StatusForbidden)
		} else {
			h.status(w, http.StatusNotFound)
		}
		return
	}
	rq := &request{w: w, r: r, v: v, l: l, ctx: r.Context()}
	switch r.Method {
	case http.MethodOptions:
		h.options(rq)
	case http.MethodGet, http.MethodHead:
		h.get(rq)
	case http.MethodPut:
		h.put(rq)
	case http.MethodDelete:
		h.delete(rq)
	case "MKCOL":
		h.mkcol(rq)
	case "COPY", "MOVE":
		h.copyMove(rq)
	case "PROPFIND":
		h.propfind(rq)
	case "PROPPATCH":
		h.proppatch(rq)
	case "LOCK":
		h.lock(rq)
	case "UNLOCK":
		h.unlock(rq)
	default:
		w.Header().Set("Allow", allowed(l, nil))
		h.status(w, http.StatusMethodNotAllowed)
	}
}

// request carries one request through the method handlers.
type request struct {
	w   http.ResponseWriter
	r   *http.Request
	v   *View
	l   loc
	ctx context.Context
}

func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, "PROPFIND":
		return false
	}
	return true
}

// serialize locks the mutexes of the given volumes, in id order, and
// returns the function that unlocks them.
func (h *Handler) serialize(vols ...*store.Volume) func() {
	ids := make([]string, 0, len(vols))
	for _, v := range vols {
		if v != nil && !slices.Contains(ids, v.ID()) {
			ids = append(ids, v.ID())
		}
	}
	slices.Sort(ids)
	var mus []*sync.Mutex
	for _, id := range ids {
		m, _ := h.vols.LoadOrStore(id, new(sync.Mutex))
		mu := m.(*sync.Mutex)
		mu.Lock()
		mus = append(mus, mu)
	}
	return func() {
		for i := len(mus) - 1; i >= 0; i-- {
			mus[i].Unlock()
		}
	}
}

// status writes a bodiless status response (a short text body for
// errors).
func (h *Handler) status(w http.ResponseWriter, code int) {
	if code == http.StatusNoContent || code < 400 {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(code)
		return
	}
	text := strconv.Itoa(code) + " " + statusText(code) + "\n"
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(text)))
	w.WriteHeader(code)
	io.WriteString(w, text)
}

// xmlError writes a status with a DAV:error body holding inner.
func (h *Handler) xmlError(w http.ResponseWriter, code int, inner string) {
	body := davxml.ErrorBody(inner)
	w.Header().Set("Content-Type", davxml.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}

// fail maps an error from the store or a body reader to a response.
func (h *Handler) fail(rq *request, err error) {
	var maxErr *http.MaxBytesError
	switch {
	case rq.ctx.Err() != nil:
		// The client went away; nobody reads the answer.
		h.status(rq.w, http.StatusBadRequest)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, store.ErrInvalidPath):
		h.status(rq.w, http.StatusNotFound)
	case errors.Is(err, store.ErrNoParent):
		h.status(rq.w, http.StatusConflict)
	case errors.Is(err, store.ErrQuota):
		h.xmlError(rq.w, http.StatusInsufficientStorage, "<D:quota-not-exceeded/>")
	case errors.As(err, &maxErr):
		h.status(rq.w, http.StatusRequestEntityTooLarge)
	case errors.Is(err, fs.ErrPermission):
		h.status(rq.w, http.StatusForbidden)
	default:
		h.log.Error("webdav request failed", "method", rq.r.Method, "path", rq.r.URL.Path, "principal", rq.v.Principal, "err", err)
		h.status(rq.w, http.StatusInternalServerError)
	}
}

// badBody answers a request whose XML body could not be read: 413 if
// it was too large, 400 if it was malformed.
func (h *Handler) badBody(w http.ResponseWriter, err error) {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		h.status(w, http.StatusRequestEntityTooLarge)
		return
	}
	h.status(w, http.StatusBadRequest)
}

// body returns the request body limited to the XML body size.
func (h *Handler) body(rq *request) io.Reader {
	return http.MaxBytesReader(rq.w, rq.r.Body, h.cfg.MaxXMLBody)
}

// stat returns the resource at l, or nil if there is none.
func (rq *request) stat(l loc) (*store.Info, error) {
	if l.virtual() {
		return nil, nil
	}
	info, err := l.vol.Stat(rq.ctx, l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return info, err
}

// allowed returns the Allow header for l with info (nil: no resource).
func allowed(l loc, info *store.Info) string {
	switch {
	case l.virtual():
		return "OPTIONS, GET, HEAD, PROPFIND"
	case info == nil && l.readOnly:
		return "OPTIONS"
	case info == nil:
		return "OPTIONS, PUT, MKCOL, LOCK"
	case l.readOnly:
		return "OPTIONS, GET, HEAD, PROPFIND, COPY"
	case info.IsDir():
		return "OPTIONS, GET, HEAD, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK"
	default:
		return "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK"
	}
}

func statusText(code int) string {
	switch code {
	case http.StatusMultiStatus:
		return "Multi-Status"
	case http.StatusLocked:
		return "Locked"
	case http.StatusFailedDependency:
		return "Failed Dependency"
	case http.StatusInsufficientStorage:
		return "Insufficient Storage"
	case http.StatusUnprocessableEntity:
		return "Unprocessable Entity"
	}
	return http.StatusText(code)
}
