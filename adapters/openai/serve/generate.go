package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/mycelium-go/mycelium/adapters/openai/relay"
	"github.com/mycelium-go/mycelium/adapters/openai/wire"
)

// generate proxies a chat, completion or embedding request.
func (h *Handler) generate(w http.ResponseWriter, r *http.Request, peer, endpoint string) {
	body, req, e := wire.ReadRequest(w, r, h.cfg.MaxBodyBytes)
	if e == nil && !h.allowed(req.Model) {
		e = wire.NotFoundModel(req.Model)
	}
	if e != nil {
		h.refuse(w, peer, endpoint, e)
		return
	}
	if ok, wait, exhausted := h.limits.allow(peer); !ok {
		h.metrics.limited.WithLabelValues(peer, exhausted).Inc()
		w.Header().Set("Retry-After", wire.RetryAfterSeconds(wait))
		h.refuse(w, peer, endpoint, rateLimited(exhausted, wait))
		return
	}
	h.metrics.inFlight.Inc()
	defer h.metrics.inFlight.Dec()

	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	resp, injected, err := h.sendUpstream(ctx, r, body, req)
	if err != nil {
		h.upstreamFailed(w, r, peer, req.Model, endpoint, err)
		return
	}
	defer resp.Body.Close()
	res := relay.Response(w, resp, relay.Options{
		Observe: func(_ []byte, c wire.Chunk) bool {
			return !(injected && c.UsageOnly) // the caller did not ask for this chunk
		},
		IdleTimeout: h.cfg.StreamIdleTimeout,
		OnIdle:      func() { cancel(relay.ErrIdle) },
	})
	h.account(peer, req.Model, endpoint, body, &res)
	if res.ReadErr != nil {
		h.log.Warn("upstream response broke off", "peer", peer, "model", req.Model, "err", context.Cause(ctx))
		if res.EventStream {
			relay.Interrupt(w, &res, interruptMessage(ctx, res.ReadErr))
		}
		panic(http.ErrAbortHandler) // the HTTP framing shows the truncation too
	}
}

func interruptMessage(ctx context.Context, err error) string {
	if errors.Is(context.Cause(ctx), relay.ErrIdle) {
		return "The model server stopped sending: " + relay.ErrIdle.Error() + "."
	}
	return "The model server's stream broke off: " + err.Error() + "."
}

func rateLimited(exhausted string, wait time.Duration) *wire.Error {
	return &wire.Error{
		Status: http.StatusTooManyRequests, Type: exhausted, Code: wire.CodeRateLimitExceeded,
		Message: fmt.Sprintf("Rate limit reached for %s per minute for your node. Please try again in %.1fs.", exhausted, wait.Seconds()),
	}
}

// refuse answers a request the handler does not forward.
func (h *Handler) refuse(w http.ResponseWriter, peer, endpoint string, e *wire.Error) {
	h.metrics.requests.WithLabelValues(peer, "", endpoint, strconv.Itoa(e.Status)).Inc()
	e.Write(w)
}

// sendUpstream sends the request, asking for a usage chunk if the caller
// did not. If the upstream rejects the injected stream_options but takes
// the caller's own body, it is never asked again.
func (h *Handler) sendUpstream(ctx context.Context, r *http.Request, body []byte, req wire.Request) (*http.Response, bool, error) {
	out, injected := body, false
	if req.Stream && !req.IncludeUsage && h.cfg.InjectStreamUsage && !h.noStreamOptions.Load() {
		out, injected = wire.InjectIncludeUsage(body)
	}
	resp, err := h.post(ctx, r, out)
	if err != nil || !injected || (resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnprocessableEntity) {
		return resp, injected, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp, err = h.post(ctx, r, body)
	if err == nil && resp.StatusCode < 300 {
		h.noStreamOptions.Store(true)
		h.log.Info("upstream rejects stream_options; stream usage will be estimated")
	}
	return resp, false, err
}

func (h *Handler) post(ctx context.Context, r *http.Request, body []byte) (*http.Response, error) {
	req, err := h.upstreamRequest(ctx, r, http.MethodPost, r.URL.Path, body)
	if err != nil {
		return nil, err
	}
	return h.client.Do(req)
}

func (h *Handler) upstreamFailed(w http.ResponseWriter, r *http.Request, peer, model, endpoint string, err error) {
	if r.Context().Err() != nil {
		h.metrics.errors.WithLabelValues(peer, modelLabel(model), "client_gone").Inc()
		return // nobody to answer
	}
	h.log.Warn("upstream request failed", "peer", peer, "model", model, "err", err)
	h.metrics.errors.WithLabelValues(peer, modelLabel(model), "upstream_unavailable").Inc()
	h.metrics.requests.WithLabelValues(peer, modelLabel(model), endpoint, "502").Inc()
	wire.BadGateway("The model server of this node is unavailable.").Write(w)
}

// account records metrics and charges the peer's token budget.
func (h *Handler) account(peer, model, endpoint string, body []byte, res *relay.Result) {
	label := modelLabel(model)
	if res.Status == http.StatusNotFound && len(h.cfg.Models) == 0 {
		label = "unknown" // the upstream does not know it: do not keep the caller's string
	}
	h.metrics.requests.WithLabelValues(peer, label, endpoint, strconv.Itoa(res.Status)).Inc()
	switch {
	case res.ReadErr != nil:
		h.metrics.errors.WithLabelValues(peer, label, "stream_interrupted").Inc()
	case res.WriteErr != nil:
		h.metrics.errors.WithLabelValues(peer, label, "client_gone").Inc()
	case res.Status >= 400:
		h.metrics.errors.WithLabelValues(peer, label, "upstream_status").Inc()
	}
	if res.Status >= 300 {
		return
	}
	u := res.Usage
	if !res.HasUsage {
		u = estimate(endpoint, body, res)
		h.metrics.estimated.WithLabelValues(peer, label).Inc()
	}
	h.metrics.promptTokens.WithLabelValues(peer, label).Add(float64(u.PromptTokens))
	h.metrics.completionTokens.WithLabelValues(peer, label).Add(float64(u.CompletionTokens))
	h.limits.charge(peer, u.TotalTokens)
}

// estimate guesses the usage of a response that reported none: about four
// bytes of request per prompt token, one token per streamed event (servers
// send one event per token), or four bytes of a non-streamed answer per
// completion token.
func estimate(endpoint string, body []byte, res *relay.Result) wire.Usage {
	u := wire.Usage{PromptTokens: int64(len(body)+3) / 4}
	switch {
	case endpoint == "embeddings":
	case res.EventStream:
		u.CompletionTokens = int64(res.Events)
	default:
		u.CompletionTokens = (res.Bytes + 3) / 4
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}
