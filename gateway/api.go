package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// API paths served by Handler.
const (
	PathPlugins = "/api/v1/gateway/plugins"
	PathReload  = "/api/v1/gateway/reload"
)

// reloadTimeout bounds a reload requested over the API.
const reloadTimeout = 2 * time.Minute

// ReloadFunc re-reads the node's configuration and applies it with
// Gateway.Reload. The node provides it (it knows the config file).
type ReloadFunc func(ctx context.Context) error

// Handler serves the gateway's REST endpoints; mount it on the node's API
// server for the prefix /api/v1/gateway/:
//
//	GET  /api/v1/gateway/plugins         Status (plugins, services, forwards)
//	GET  /api/v1/gateway/plugins/{name}  one PluginStatus; 404 if unknown
//	POST /api/v1/gateway/reload          reload; 204, or 400 with the error
//
// reload may be nil: the reload endpoint then answers 501.
func (g *Gateway) Handler(reload ReloadFunc) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathPlugins, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, g.Status())
	})
	mux.HandleFunc("GET "+PathPlugins+"/{name}", func(w http.ResponseWriter, r *http.Request) {
		ps, ok := g.PluginStatus(r.PathValue("name"))
		if !ok {
			writeError(w, http.StatusNotFound, "no plugin named "+r.PathValue("name"))
			return
		}
		writeJSON(w, http.StatusOK, ps)
	})
	mux.HandleFunc("POST "+PathReload, func(w http.ResponseWriter, r *http.Request) {
		if reload == nil {
			writeError(w, http.StatusNotImplemented, "this node cannot reload its configuration")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), reloadTimeout)
		defer cancel()
		if err := reload(ctx); err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, ErrConfig) {
				code = http.StatusBadRequest
			}
			writeError(w, code, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// apiError is the body of an error response.
type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
