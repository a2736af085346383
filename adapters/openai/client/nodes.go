package client

import (
	"cmp"
	"encoding/json"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// model is one entry of a node's model list.
type model struct {
	id  string
	raw json.RawMessage // the entry as the node sent it
}

// node is the state of one AI node. Its fields are guarded by the
// registry's mutex.
type node struct {
	key        sdk.PublicKey
	label      string // key in hex
	port       uint16
	configured bool      // from the configuration (else discovered)
	expires    time.Time // discovered nodes: end of the announcement's ttl
	order      int       // position in configuration/discovery order

	addr      netip.Addr // resolved from the key; invalid until known
	up        bool
	checked   time.Time // last check, successful or not
	lastErr   string
	models    []model
	modelSet  map[string]bool
	modelsAt  time.Time // last successful model list
	metric    uint16
	metricOK  bool
	metricAt  time.Time
	announced bool
}

// target is a node chosen for one request.
type target struct {
	key   sdk.PublicKey
	label string
	addr  netip.Addr
	port  uint16
	up    bool
}

// hostport is the node's serve role as "[addr]:port".
func (t target) hostport() string {
	return netip.AddrPortFrom(t.addr, t.port).String()
}

// registry holds the known AI nodes.
type registry struct {
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	nodes map[sdk.PublicKey]*node
	next  int
}

func newRegistry(cfg Config, now func() time.Time) *registry {
	r := &registry{ttl: cfg.ModelsTTL, now: now, nodes: make(map[sdk.PublicKey]*node)}
	for _, n := range cfg.Nodes {
		port := n.Port
		if port == 0 {
			port = cfg.Port
		}
		r.addLocked(n.Key, port, true)
	}
	return r
}

func (r *registry) addLocked(k sdk.PublicKey, port uint16, configured bool) *node {
	n := &node{key: k, label: k.String(), port: port, configured: configured, order: r.next}
	r.next++
	r.nodes[k] = n
	return n
}

// all returns the nodes in order.
func (r *registry) all() []*node {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*node, 0, len(r.nodes))
	for _, n := range r.nodes {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *node) int { return cmp.Compare(a.order, b.order) })
	return out
}

// fresh reports whether n's model list may be used.
func (r *registry) freshLocked(n *node, now time.Time) bool {
	return !n.modelsAt.IsZero() && now.Sub(n.modelsAt) < r.ttl
}

// candidates returns the nodes that serve id, best first: nodes that are
// up before nodes that are down, then by route metric (unknown last),
// then in configuration order.
func (r *registry) candidates(id string) []target {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var found []*node
	for _, n := range r.nodes {
		if n.modelSet[id] && n.addr.IsValid() && r.freshLocked(n, now) {
			found = append(found, n)
		}
	}
	slices.SortFunc(found, func(a, b *node) int {
		if a.up != b.up {
			if a.up {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(metricOf(a), metricOf(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.order, b.order)
	})
	out := make([]target, len(found))
	for i, n := range found {
		out[i] = target{key: n.key, label: n.label, addr: n.addr, port: n.port, up: n.up}
	}
	return out
}

func metricOf(n *node) int {
	if !n.metricOK {
		return 1 << 16
	}
	return int(n.metric)
}

// merged returns the models of the nodes that are up, one entry per id
// (the first node's in order), sorted by id.
func (r *registry) merged() []model {
	now := r.now()
	nodes := r.all()
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]bool)
	var out []model
	for _, n := range nodes {
		if !n.up || !r.freshLocked(n, now) {
			continue
		}
		for _, m := range n.models {
			if !seen[m.id] {
				seen[m.id] = true
				out = append(out, m)
			}
		}
	}
	slices.SortFunc(out, func(a, b model) int { return cmp.Compare(a.id, b.id) })
	return out
}

// counts returns how many nodes are known and how many are up.
func (r *registry) counts() (known, up int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.nodes {
		known++
		if n.up {
			up++
		}
	}
	return known, up
}

// checked records the outcome of a check of n: its models on success,
// the error otherwise.
func (r *registry) checked(k sdk.PublicKey, models []model, err error) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.nodes[k]
	if n == nil {
		return
	}
	n.checked = now
	if err != nil {
		n.up, n.lastErr = false, err.Error()
		return
	}
	n.up, n.lastErr, n.models, n.modelsAt = true, "", models, now
	n.modelSet = make(map[string]bool, len(models))
	for _, m := range models {
		n.modelSet[m.id] = true
	}
}

// markDown records that a request could not reach k.
func (r *registry) markDown(k sdk.PublicKey, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.nodes[k]; n != nil {
		n.up, n.lastErr = false, err.Error()
	}
}

// setAddr records the overlay address of k.
func (r *registry) setAddr(k sdk.PublicKey, a netip.Addr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.nodes[k]; n != nil {
		n.addr = a
	}
}

// setMetric records the route metric to k; ok false: no route.
func (r *registry) setMetric(k sdk.PublicKey, metric uint16, ok bool) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.nodes[k]; n != nil {
		n.metric, n.metricOK, n.metricAt = metric, ok, now
	}
}

// metricAge returns how old k's route metric is.
func (r *registry) metricAge(k sdk.PublicKey) time.Duration {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.nodes[k]; n != nil && !n.metricAt.IsZero() {
		return now.Sub(n.metricAt)
	}
	return time.Duration(1<<63 - 1)
}

// announce records an announcement from k and reports whether k needs a
// check: it is new or was down.
func (r *registry) announce(k sdk.PublicKey, port uint16, ttl time.Duration) bool {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	n, known := r.nodes[k]
	if !known {
		n = r.addLocked(k, port, false)
	}
	n.announced = true
	if !n.configured {
		n.port, n.expires = port, now.Add(ttl)
	}
	return !known || !n.up
}

// withdraw forgets a discovered node, or marks a configured one down.
func (r *registry) withdraw(k sdk.PublicKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.nodes[k]
	switch {
	case n == nil:
	case n.configured:
		n.up, n.lastErr = false, "withdrawn by the node"
	default:
		delete(r.nodes, k)
	}
}

// expire forgets discovered nodes whose announcement ran out.
func (r *registry) expire() {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, n := range r.nodes {
		if !n.configured && now.After(n.expires) {
			delete(r.nodes, k)
		}
	}
}

// NodeStatus is one node in the GET /mycelium/nodes answer.
type NodeStatus struct {
	Key        string   `json:"key"`
	Address    string   `json:"address,omitempty"`
	Port       uint16   `json:"port"`
	Configured bool     `json:"configured"`
	Announced  bool     `json:"announced"`
	Up         bool     `json:"up"`
	Metric     *uint16  `json:"metric"`
	Models     []string `json:"models"`
	LastError  string   `json:"last_error,omitempty"`
	Checked    string   `json:"checked,omitempty"`
}

func (r *registry) status() []NodeStatus {
	nodes := r.all()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]NodeStatus, 0, len(nodes))
	for _, n := range nodes {
		s := NodeStatus{Key: n.label, Port: n.port, Configured: n.configured, Announced: n.announced,
			Up: n.up, LastError: n.lastErr, Models: []string{}}
		if n.addr.IsValid() {
			s.Address = n.addr.String()
		}
		if n.metricOK {
			m := n.metric
			s.Metric = &m
		}
		for _, m := range n.models {
			s.Models = append(s.Models, m.id)
		}
		if !n.checked.IsZero() {
			s.Checked = n.checked.UTC().Format(time.RFC3339)
		}
		out = append(out, s)
	}
	return out
}
