package server

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/mycelium-go/mycelium/adapters/dav/davxml"
)

// httpError is an error with the HTTP status to answer and, for
// precondition failures, the DAV:error condition element.
type httpError struct {
	code  int
	cond  *xml.Name
	inner string // XML content of the condition element
	msg   string
}

func (e *httpError) Error() string { return fmt.Sprintf("%d %s", e.code, e.msg) }

func errStatus(code int, format string, a ...any) *httpError {
	return &httpError{code: code, msg: fmt.Sprintf(format, a...)}
}

// errCond is a failed precondition: code and a DAV:error body naming it.
func errCond(code int, space, local string, format string, a ...any) *httpError {
	n := davxml.N(space, local)
	return &httpError{code: code, cond: &n, msg: fmt.Sprintf(format, a...)}
}

var (
	errNotFound  = errStatus(http.StatusNotFound, "not found")
	errForbidden = errStatus(http.StatusForbidden, "forbidden")
)

// fail answers err. Errors that are not httpErrors are internal: they
// are logged and answered with 500 without detail.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		he = errStatus(http.StatusInternalServerError, "internal error")
	} else if he.code >= 500 {
		h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", he.msg)
	} else {
		h.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "status", he.code, "reason", he.msg)
	}
	if he.cond != nil {
		body := davxml.ErrorDocument(*he.cond, he.inner)
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(he.code)
		_, _ = w.Write(body)
		return
	}
	http.Error(w, http.StatusText(he.code)+": "+he.msg, he.code)
}
