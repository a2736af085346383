package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// maxModelsBytes bounds a node's model list.
const maxModelsBytes = 16 << 20

// refresh checks every node unless the last check started less than
// maxAge ago. Concurrent callers share one check. It returns when the
// check is done or ctx ends. A detached check (started for a request)
// runs to its end even if ctx ends, since other requests may wait on it.
func (h *Handler) refresh(ctx context.Context, maxAge time.Duration, detach bool) {
	h.refreshMu.Lock()
	if h.refreshing == nil && time.Since(h.lastRefresh) < maxAge {
		h.refreshMu.Unlock()
		return
	}
	if ch := h.refreshing; ch != nil {
		h.refreshMu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		return
	}
	ch := make(chan struct{})
	h.refreshing, h.lastRefresh = ch, time.Now()
	h.refreshMu.Unlock()

	if detach {
		ctx = context.WithoutCancel(ctx)
	}
	checkCtx, cancel := context.WithTimeout(ctx, h.cfg.HealthTimeout)
	h.checkAll(checkCtx)
	cancel()

	h.refreshMu.Lock()
	h.refreshing = nil
	select {
	case <-h.firstCheck:
	default:
		close(h.firstCheck)
	}
	h.refreshMu.Unlock()
	close(ch)
}

// awaitFirstCheck makes sure every node has been checked once before a
// request is routed, so that a request right after start does not go to
// whichever node happened to answer first: it joins the check under way,
// or runs one if none has started.
func (h *Handler) awaitFirstCheck(ctx context.Context) {
	select {
	case <-h.firstCheck:
		return
	default:
	}
	h.refresh(ctx, time.Hour, true)
}

// checkAll checks every node at once and forgets expired discovered ones.
func (h *Handler) checkAll(ctx context.Context) {
	h.reg.expire()
	var wg sync.WaitGroup
	for _, n := range h.reg.all() {
		wg.Go(func() { h.checkNode(ctx, n.key, n.port) })
	}
	wg.Wait()
}

// checkNode resolves the node's address and route metric and lists its
// models.
func (h *Handler) checkNode(ctx context.Context, k sdk.PublicKey, port uint16) {
	addr, err := h.host.AddressOf(ctx, k)
	if err != nil {
		h.reg.checked(k, nil, fmt.Errorf("address of node: %w", err))
		return
	}
	h.reg.setAddr(k, addr)
	h.updateMetric(ctx, target{key: k, addr: addr})
	t := target{key: k, label: k.String(), addr: addr, port: port}
	models, err := h.fetchModels(ctx, t)
	if err != nil && ctx.Err() == nil {
		h.log.Debug("node check failed", "peer", t.label, "err", err)
	}
	h.reg.checked(k, models, err)
	h.metrics.nodeUp(t.label, err == nil)
}

// updateMetric asks the node for the route metric to t.
func (h *Handler) updateMetric(ctx context.Context, t target) {
	m, err := h.host.RouteMetric(ctx, t.addr)
	switch {
	case err == nil:
		h.reg.setMetric(t.key, m, true)
	case errors.Is(err, sdk.ErrNotFound):
		h.reg.setMetric(t.key, 0, false)
	}
}

// fetchModels fetches GET /v1/models from the node.
func (h *Handler) fetchModels(ctx context.Context, t target) ([]model, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+t.hostport()+"/v1/models", nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxModelsBytes))
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list models: status %d: %.200s", resp.StatusCode, body)
	}
	return parseModels(body)
}

// parseModels reads the entries of a model list, keeping each one raw.
func parseModels(body []byte) ([]model, error) {
	var list struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("parse model list: %w", err)
	}
	out := make([]model, 0, len(list.Data))
	for _, raw := range list.Data {
		var e struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &e) == nil && e.ID != "" {
			out = append(out, model{id: e.ID, raw: raw})
		}
	}
	return out, nil
}
