package webdav

import (
	"io"
	"log/slog"
	"net/http"
	"time"
)

// logged wraps a ResponseWriter to record the status for the debug
// access log. It keeps ReadFrom so that sendfile still applies.
type logged struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (l *logged) WriteHeader(code int) {
	if l.status == 0 {
		l.status = code
	}
	l.ResponseWriter.WriteHeader(code)
}

func (l *logged) Write(b []byte) (int, error) {
	if l.status == 0 {
		l.status = http.StatusOK
	}
	n, err := l.ResponseWriter.Write(b)
	l.bytes += int64(n)
	return n, err
}

func (l *logged) ReadFrom(r io.Reader) (int64, error) {
	if l.status == 0 {
		l.status = http.StatusOK
	}
	n, err := io.Copy(l.ResponseWriter, r)
	l.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (l *logged) Unwrap() http.ResponseWriter { return l.ResponseWriter }

// accessLog logs each request at debug level when that level is on.
func (a *Adapter) accessLog(w http.ResponseWriter, r *http.Request, principal string, serve func(http.ResponseWriter)) {
	if !a.log.Enabled(r.Context(), slog.LevelDebug) {
		serve(w)
		return
	}
	start := time.Now()
	lw := &logged{ResponseWriter: w}
	serve(lw)
	a.log.Debug("webdav request", "method", r.Method, "path", r.URL.Path, "status", lw.status,
		"bytes", lw.bytes, "principal", principal, "duration", time.Since(start))
}
