package client

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts the client role's routing, by node key.
type metrics struct {
	requests  *prometheus.CounterVec // node, code
	failovers *prometheus.CounterVec // node, reason
	up        *prometheus.GaugeVec   // node
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mycelium_openai_client_requests_total",
			Help: "Local requests answered through a remote AI node, by node key and HTTP status.",
		}, []string{"node", "code"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mycelium_openai_client_failovers_total",
			Help: "Attempts on a node that failed before any byte reached the local client, by node key and reason.",
		}, []string{"node", "reason"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mycelium_openai_client_node_up",
			Help: "1 if the last check of the AI node succeeded.",
		}, []string{"node"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.failovers, m.up} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register client metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) nodeUp(node string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.up.WithLabelValues(node).Set(v)
}
