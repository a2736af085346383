package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultGauges are the metric names, among those our components export,
// whose values go up and down. Every other name is a counter.
var DefaultGauges = []string{
	"mycelium_peer_manager_known_peers",
	"mycelium_node_route_table_size",
	"mycelium_message_inbox_messages",
	"mycelium_message_inbox_bytes",
	"mycelium_message_pending_transfers",
	"mycelium_message_reserved_bytes",
	"mycelium_message_outbound_transfers",
	"mycelium_message_outbound_bytes",
}

// Exporter is a prometheus.Collector over a set of Sources. It is safe
// for concurrent use; sources may be added while it is being scraped.
type Exporter struct {
	mu      sync.Mutex
	sources []Source
	gauges  map[string]bool
}

// NewExporter returns an exporter that treats DefaultGauges as gauges.
func NewExporter() *Exporter {
	e := &Exporter{gauges: make(map[string]bool)}
	e.Gauge(DefaultGauges...)
	return e
}

// Add registers a source.
func (e *Exporter) Add(src Source) {
	if src == nil {
		return
	}
	e.mu.Lock()
	e.sources = append(e.sources, src)
	e.mu.Unlock()
}

// Gauge marks metric names as gauges.
func (e *Exporter) Gauge(names ...string) {
	e.mu.Lock()
	for _, n := range names {
		e.gauges[n] = true
	}
	e.mu.Unlock()
}

// Describe implements prometheus.Collector. It describes nothing: the
// metric set depends on the sources' data (per-peer labels), so the
// exporter is an unchecked collector.
func (e *Exporter) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector. A name and label value seen
// twice is exported once (the first wins); a name used with two label
// names keeps the first label name.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	sources := append([]Source(nil), e.sources...)
	gauges := e.gauges
	e.mu.Unlock()

	type family struct {
		desc  *prometheus.Desc
		label string
		typ   prometheus.ValueType
	}
	families := make(map[string]*family)
	seen := make(map[[2]string]bool)
	for _, src := range sources {
		for _, s := range src() {
			f := families[s.Name]
			if f == nil {
				var labels []string
				if s.LabelName != "" {
					labels = []string{s.LabelName}
				}
				typ := prometheus.CounterValue
				if gauges[s.Name] {
					typ = prometheus.GaugeValue
				}
				f = &family{desc: prometheus.NewDesc(s.Name, s.Help, labels, nil), label: s.LabelName, typ: typ}
				families[s.Name] = f
			}
			if f.label != s.LabelName || seen[[2]string{s.Name, s.LabelValue}] {
				continue
			}
			seen[[2]string{s.Name, s.LabelValue}] = true
			var lv []string
			if f.label != "" {
				lv = []string{s.LabelValue}
			}
			m, err := prometheus.NewConstMetric(f.desc, f.typ, float64(s.Value), lv...)
			if err != nil {
				ch <- prometheus.NewInvalidMetric(f.desc, err)
				continue
			}
			ch <- m
		}
	}
}

// Registry returns a registry with the exporter plus the Go runtime and
// process collectors.
func (e *Exporter) Registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(e,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves the exporter's metrics in the Prometheus text format.
func (e *Exporter) Handler() http.Handler {
	return promhttp.HandlerFor(e.Registry(), promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Server serves /metrics on one address, as the reference does with
// --metrics-api-address.
type Server struct {
	log *slog.Logger
	srv *http.Server
	ln  net.Listener

	wg        sync.WaitGroup
	closeOnce sync.Once
	err       error
}

// NewServer returns a server for e at addr (host:port).
func NewServer(addr string, e *Exporter, log *slog.Logger) (*Server, error) {
	if e == nil || log == nil {
		return nil, errors.New("metrics: nil exporter or logger")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("metrics: listen address %q: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", e.Handler())
	return &Server{
		log: log.With("component", "metrics"),
		srv: &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second},
	}, nil
}

// Start binds the listener and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.srv.Addr)
	if err != nil {
		return fmt.Errorf("metrics: listen on %s: %w", s.srv.Addr, err)
	}
	s.ln = ln
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics server stopped", "err", err)
		}
	}()
	s.log.Info("serving metrics", "addr", ln.Addr().String())
	return nil
}

// Addr is the bound address (after Start).
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Close stops the server and waits for it.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.err = s.srv.Close()
		s.wg.Wait()
	})
	return s.err
}
