package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mycelium-go/mycelium/adapters/openai/relay"
	"github.com/mycelium-go/mycelium/adapters/openai/wire"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// endpoints maps the generation paths to their metric label.
var endpoints = map[string]string{
	"/v1/chat/completions": "chat",
	"/v1/completions":      "completions",
	"/v1/embeddings":       "embeddings",
}

// maxModelsBytes bounds the upstream's model list.
const maxModelsBytes = 16 << 20

// Handler serves the OpenAI API of the upstream to mesh peers.
type Handler struct {
	cfg     Config
	log     *slog.Logger
	client  *http.Client
	base    string // upstream base URL without a trailing slash
	limits  *limiter
	metrics *metrics
	// noStreamOptions is set once the upstream rejected an injected
	// stream_options and accepted the same request without it.
	noStreamOptions atomic.Bool
}

// New validates cfg and returns a Handler that registers its metrics with
// reg.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Handler, error) {
	if log == nil || reg == nil {
		return nil, errors.New("serve: nil logger or registerer")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: cfg.HeaderTimeout,
		ForceAttemptHTTP2:     true,
	}
	return &Handler{
		cfg:     cfg,
		log:     log,
		client:  &http.Client{Transport: transport, CheckRedirect: noRedirects},
		base:    strings.TrimSuffix(cfg.Upstream.String(), "/"),
		limits:  newLimiter(cfg.DefaultLimit, cfg.PeerLimits, time.Now),
		metrics: m,
	}, nil
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Close releases idle upstream connections.
func (h *Handler) Close() { h.client.CloseIdleConnections() }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	peer, e := h.caller(r)
	if e != nil {
		e.Write(w)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/models":
		h.listModels(w, r, peer)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/models/"):
		h.getModel(w, r, peer, strings.TrimPrefix(r.URL.Path, "/v1/models/"))
	case r.Method == http.MethodPost && endpoints[r.URL.Path] != "":
		h.generate(w, r, peer, endpoints[r.URL.Path])
	default:
		wire.UnknownURL(r).Write(w)
	}
}

// caller returns the peer label of an admitted caller: its key in hex, or
// "loopback".
func (h *Handler) caller(r *http.Request) (string, *wire.Error) {
	p, ok := sdk.PeerFromContext(r.Context())
	switch {
	case ok && p.FromOverlay():
		return p.Key.String(), nil
	case ok && p.Origin == sdk.OriginLoopback && h.cfg.AllowLoopback:
		return "loopback", nil
	}
	return "", &wire.Error{Status: http.StatusForbidden, Type: wire.TypePermission, Code: wire.CodeForbidden,
		Message: "This service is offered to mesh peers only: connect over the overlay."}
}

func (h *Handler) allowed(model string) bool {
	return len(h.cfg.Models) == 0 || slices.Contains(h.cfg.Models, model)
}

// upstreamRequest builds a request to the upstream path that corresponds
// to r's, with r's end-to-end headers and the upstream key.
func (h *Handler) upstreamRequest(ctx context.Context, r *http.Request, method, path string, body []byte) (*http.Request, error) {
	target := h.base + strings.TrimPrefix(path, "/v1")
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("build upstream request: %w", err)
	}
	relay.CopyRequestHeaders(req.Header, r.Header)
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if h.cfg.UpstreamKey != "" {
		req.Header.Set("Authorization", "Bearer "+h.cfg.UpstreamKey)
	}
	return req, nil
}

// modelList fetches the upstream's model list. On a non-200 answer it
// returns the response for the caller to pass through.
func (h *Handler) modelList(ctx context.Context, r *http.Request) (*modelList, *http.Response, error) {
	req, err := h.upstreamRequest(ctx, r, http.MethodGet, "/v1/models", nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("list upstream models: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp, nil
	}
	defer resp.Body.Close()
	l := &modelList{}
	if l.body, err = io.ReadAll(io.LimitReader(resp.Body, maxModelsBytes)); err != nil {
		return nil, nil, fmt.Errorf("read upstream models: %w", err)
	}
	if err := json.Unmarshal(l.body, &l.members); err != nil {
		return nil, nil, fmt.Errorf("parse upstream models: %w", err)
	}
	if err := json.Unmarshal(l.members["data"], &l.entries); err != nil {
		return nil, nil, fmt.Errorf("parse upstream models: data: %w", err)
	}
	return l, nil, nil
}

// modelList is the upstream's answer to GET /models.
type modelList struct {
	body    []byte
	members map[string]json.RawMessage
	entries []json.RawMessage // the raw entries of "data"
}

// entryID returns the "id" of a model entry.
func entryID(entry json.RawMessage) string {
	var e struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(entry, &e)
	return e.ID
}

// listModels answers the upstream's list, filtered by the allow-list. With
// no allow-list the upstream's body passes unchanged.
func (h *Handler) listModels(w http.ResponseWriter, r *http.Request, peer string) {
	list, resp, err := h.modelList(r.Context(), r)
	if h.modelsFailed(w, r, peer, resp, err) {
		return
	}
	h.metrics.requests.WithLabelValues(peer, "", "models", "200").Inc()
	if len(h.cfg.Models) == 0 {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(list.body)
		return
	}
	kept := make([]json.RawMessage, 0, len(list.entries))
	for _, e := range list.entries {
		if h.allowed(entryID(e)) {
			kept = append(kept, e)
		}
	}
	list.members["data"], _ = json.Marshal(kept)
	writeJSON(w, list.members)
}

func (h *Handler) getModel(w http.ResponseWriter, r *http.Request, peer, id string) {
	if !h.allowed(id) {
		h.metrics.requests.WithLabelValues(peer, "", "models", "404").Inc()
		wire.NotFoundModel(id).Write(w)
		return
	}
	list, resp, err := h.modelList(r.Context(), r)
	if h.modelsFailed(w, r, peer, resp, err) {
		return
	}
	for _, e := range list.entries {
		if entryID(e) == id {
			h.metrics.requests.WithLabelValues(peer, modelLabel(id), "models", "200").Inc()
			writeJSON(w, e)
			return
		}
	}
	h.metrics.requests.WithLabelValues(peer, "", "models", "404").Inc()
	wire.NotFoundModel(id).Write(w)
}

// modelsFailed answers a failed model-list fetch and reports whether it did.
func (h *Handler) modelsFailed(w http.ResponseWriter, r *http.Request, peer string, resp *http.Response, err error) bool {
	switch {
	case err != nil && r.Context().Err() != nil:
		return true // the caller went away
	case err != nil:
		h.log.Warn("list upstream models failed", "peer", peer, "err", err)
		h.metrics.errors.WithLabelValues(peer, "", "upstream_unavailable").Inc()
		h.metrics.requests.WithLabelValues(peer, "", "models", "502").Inc()
		wire.BadGateway("The model server of this node is unavailable.").Write(w)
		return true
	case resp != nil:
		defer resp.Body.Close()
		h.metrics.errors.WithLabelValues(peer, "", "upstream_status").Inc()
		h.metrics.requests.WithLabelValues(peer, "", "models", fmt.Sprint(resp.StatusCode)).Inc()
		relay.Response(w, resp, relay.Options{})
		return true
	}
	return false
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		wire.BadGateway("encode response: " + err.Error()).Write(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

var _ http.Handler = (*Handler)(nil)
