package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"time"

	"github.com/mycelium-go/mycelium/adapters/openai/relay"
	"github.com/mycelium-go/mycelium/adapters/openai/wire"
)

// generate routes a chat, completion or embedding request by its model.
func (h *Handler) generate(w http.ResponseWriter, r *http.Request) {
	body, req, e := wire.ReadRequest(w, r, h.cfg.MaxBodyBytes)
	if e != nil {
		e.Write(w)
		return
	}
	targets := h.route(r.Context(), req.Model)
	if len(targets) == 0 {
		h.noRoute(w, req.Model)
		return
	}
	h.forward(w, r, body, targets)
}

// route returns the nodes that serve model, best first. An unknown model
// triggers a fresh check of the nodes (at most one a second): it may have
// just been installed.
func (h *Handler) route(ctx context.Context, model string) []target {
	h.awaitFirstCheck(ctx)
	targets := h.reg.candidates(model)
	if len(targets) == 0 {
		h.refresh(ctx, time.Second, true)
		targets = h.reg.candidates(model)
	}
	if len(targets) > 1 {
		stale := false
		for _, t := range targets {
			if h.reg.metricAge(t.key) > h.metricMaxAge {
				h.updateMetric(ctx, t)
				stale = true
			}
		}
		if stale {
			targets = h.reg.candidates(model)
		}
	}
	return targets
}

// noRoute answers a request whose model no node serves: 404 if some node
// answered its model list, 502 if none could be reached.
func (h *Handler) noRoute(w http.ResponseWriter, model string) {
	if known, up := h.reg.counts(); up == 0 && known > 0 {
		wire.BadGateway(fmt.Sprintf("None of the %d AI nodes is reachable over the mesh.", known)).Write(w)
		return
	}
	wire.NotFoundModel(model).Write(w)
}

// retryStatus are the answers after which another node is tried, if there
// is one: the node is busy, limited, or its model server is down.
func retryStatus(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusBadGateway ||
		code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// forward tries the targets in order until one answers. Nothing has been
// written to the local client while it moves on; the last target's answer
// is passed through whatever it is.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, body []byte, targets []target) {
	var lastErr error
	for i, t := range targets {
		resp, err := h.attempt(r, t, body)
		if err != nil {
			if r.Context().Err() != nil {
				return // the local client went away
			}
			lastErr = err
			h.attemptFailed(t, err)
			continue
		}
		if retryStatus(resp.StatusCode) && i < len(targets)-1 {
			lastErr = fmt.Errorf("node %.16s answered %s", t.label, resp.Status)
			h.metrics.failovers.WithLabelValues(t.label, "status_"+strconv.Itoa(resp.StatusCode)).Inc()
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			continue
		}
		h.relay(w, r, t, resp)
		return
	}
	wire.BadGateway(fmt.Sprintf("No AI node could serve the request: %v", lastErr)).Write(w)
}

// attempt sends the request to t. A request that failed on a kept-alive
// connection (the node may have closed it) is sent once more on a new one.
func (h *Handler) attempt(r *http.Request, t target, body []byte) (*http.Response, error) {
	for try := 0; ; try++ {
		reused := false
		ctx := httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
		})
		url := "http://" + t.hostport() + r.URL.Path
		if r.URL.RawQuery != "" {
			url += "?" + r.URL.RawQuery
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("build request: %w", err)
		}
		relay.CopyRequestHeaders(req.Header, r.Header)
		if req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := h.http.Do(req)
		if err == nil || !reused || try > 0 || r.Context().Err() != nil {
			return resp, err
		}
	}
}

// attemptFailed records a failed attempt; a node that cannot be dialled
// is marked down until the checker reaches it again.
func (h *Handler) attemptFailed(t target, err error) {
	reason := "error"
	if isDialError(err) {
		reason = "dial"
		h.reg.markDown(t.key, err)
		h.metrics.nodeUp(t.label, false)
	}
	h.metrics.failovers.WithLabelValues(t.label, reason).Inc()
	h.log.Warn("AI node attempt failed", "peer", t.label, "err", err)
}

// relay passes the node's answer to the local client.
func (h *Handler) relay(w http.ResponseWriter, r *http.Request, t target, resp *http.Response) {
	defer resp.Body.Close()
	res := relay.Response(w, resp, relay.Options{})
	h.metrics.requests.WithLabelValues(t.label, strconv.Itoa(res.Status)).Inc()
	if res.ReadErr == nil || r.Context().Err() != nil {
		return
	}
	h.log.Warn("AI node's answer broke off", "peer", t.label, "err", res.ReadErr)
	if res.EventStream {
		relay.Interrupt(w, &res, "The AI node's stream broke off: "+res.ReadErr.Error()+".")
	}
	panic(http.ErrAbortHandler) // the HTTP framing shows the truncation too
}
