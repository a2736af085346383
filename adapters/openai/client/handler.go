package client

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mycelium-go/mycelium/adapters/openai/wire"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// generationPaths are the POST endpoints routed to a node by model.
var generationPaths = map[string]bool{
	"/v1/chat/completions": true,
	"/v1/completions":      true,
	"/v1/embeddings":       true,
}

// Handler serves the local endpoint of the client role.
type Handler struct {
	cfg     Config
	host    sdk.Host
	log     *slog.Logger
	reg     *registry
	http    *http.Client
	metrics *metrics
	keyHash [32]byte // sha256 of the API key, compared in constant time

	refreshMu   sync.Mutex
	refreshing  chan struct{} // non-nil while a check runs; closed at its end
	lastRefresh time.Time     // start of the last check
	firstCheck  chan struct{} // closed when the first check of all nodes ends

	kick chan struct{} // asks Run for a check now
	// metricMaxAge is how old a route metric may be when a request has a
	// choice of nodes.
	metricMaxAge time.Duration
}

// New validates cfg and returns a Handler that reaches nodes through host
// and registers its metrics with reg.
func New(cfg Config, host sdk.Host, log *slog.Logger, reg prometheus.Registerer) (*Handler, error) {
	if host == nil || log == nil || reg == nil {
		return nil, errors.New("client: nil host, logger or registerer")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Handler{
		cfg:     cfg,
		host:    host,
		log:     log,
		reg:     newRegistry(cfg, time.Now),
		http:    &http.Client{Transport: newTransport(host, cfg.DialTimeout), CheckRedirect: noRedirects},
		metrics: m,
		keyHash: sha256.Sum256([]byte(cfg.APIKey)),
		kick:    make(chan struct{}, 1),

		firstCheck: make(chan struct{}),

		metricMaxAge: 5 * time.Second,
	}, nil
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e := h.admit(r); e != nil {
		if e.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mycelium openai"`)
		}
		e.Write(w)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/models":
		h.listModels(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/models/"):
		h.getModel(w, r, strings.TrimPrefix(r.URL.Path, "/v1/models/"))
	case r.Method == http.MethodPost && generationPaths[r.URL.Path]:
		h.generate(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/mycelium/nodes":
		writeJSON(w, map[string]any{"nodes": h.reg.status()})
	default:
		wire.UnknownURL(r).Write(w)
	}
}

// admit checks that the caller is local and holds the API key.
func (h *Handler) admit(r *http.Request) *wire.Error {
	if p, ok := sdk.PeerFromContext(r.Context()); !ok || p.Origin != sdk.OriginLoopback {
		return &wire.Error{Status: http.StatusForbidden, Type: wire.TypePermission, Code: wire.CodeForbidden,
			Message: "This endpoint serves local applications only."}
	}
	if h.cfg.NoAuth {
		return nil
	}
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		return &wire.Error{Status: http.StatusUnauthorized, Type: wire.TypeInvalidRequest, Code: wire.CodeInvalidAPIKey,
			Message: "You didn't provide an API key. Send the local key of the mycelium openai client role as 'Authorization: Bearer <key>'."}
	}
	got := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(got[:], h.keyHash[:]) != 1 {
		return &wire.Error{Status: http.StatusUnauthorized, Type: wire.TypeInvalidRequest, Code: wire.CodeInvalidAPIKey,
			Message: "Incorrect API key provided."}
	}
	return nil
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive (RFC 9110 section 11.1).
func bearerToken(h string) (string, bool) {
	const scheme = "bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	token := strings.TrimSpace(h[len(scheme):])
	return token, token != ""
}

// listModels answers the merged model list of the nodes that are up.
func (h *Handler) listModels(w http.ResponseWriter, r *http.Request) {
	h.refresh(r.Context(), h.cfg.RefreshInterval, true)
	if known, up := h.reg.counts(); known > 0 && up == 0 {
		wire.BadGateway(fmt.Sprintf("None of the %d AI nodes is reachable over the mesh.", known)).Write(w)
		return
	}
	models := h.reg.merged()
	data := make([]json.RawMessage, len(models))
	for i, m := range models {
		data[i] = m.raw
	}
	writeJSON(w, struct {
		Object string            `json:"object"`
		Data   []json.RawMessage `json:"data"`
	}{Object: "list", Data: data})
}

func (h *Handler) getModel(w http.ResponseWriter, r *http.Request, id string) {
	h.refresh(r.Context(), h.cfg.RefreshInterval, true)
	for _, m := range h.reg.merged() {
		if m.id == id {
			writeJSON(w, m.raw)
			return
		}
	}
	wire.NotFoundModel(id).Write(w)
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
