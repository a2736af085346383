package serve

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts usage per peer and model. Peer labels are keys the
// gateway's policy admitted (or "loopback"), so their number is bounded
// by the policy; model labels are allow-listed ids, or ids the upstream
// accepted.
type metrics struct {
	requests         *prometheus.CounterVec // peer, model, endpoint, code
	promptTokens     *prometheus.CounterVec // peer, model
	completionTokens *prometheus.CounterVec // peer, model
	estimated        *prometheus.CounterVec // peer, model
	errors           *prometheus.CounterVec // peer, model, reason
	limited          *prometheus.CounterVec // peer, limit
	inFlight         prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mycelium_openai_requests_total",
			Help: "Requests served to mesh peers, by peer key, model, endpoint and HTTP status.",
		}, []string{"peer", "model", "endpoint", "code"}),
		promptTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mycelium_openai_prompt_tokens_total",
			Help: "Prompt tokens used by mesh peers, by peer key and model.",
		}, []string{"peer", "model"}),
		completionTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mycelium_openai_completion_tokens_total",
			Help: "Completion tokens generated for mesh peers, by peer key and model.",
		}, []string{"peer", "model"}),
		estimated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mycelium_openai_usage_estimated_total",
			Help: "Responses whose token usage was estimated because the upstream reported none.",
		}, []string{"peer", "model"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mycelium_openai_errors_total",
			Help: "Failed requests by peer key, model and reason.",
		}, []string{"peer", "model", "reason"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mycelium_openai_rate_limited_total",
			Help: "Requests refused with 429, by peer key and exhausted budget (requests or tokens).",
		}, []string{"peer", "limit"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mycelium_openai_in_flight_requests",
			Help: "Requests being served to mesh peers.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.promptTokens, m.completionTokens, m.estimated, m.errors, m.limited, m.inFlight} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register serve metrics: %w", err)
		}
	}
	return m, nil
}

// modelLabel bounds the length of a model label.
func modelLabel(model string) string {
	const maxLen = 128
	if len(model) > maxLen {
		return model[:maxLen]
	}
	return model
}
