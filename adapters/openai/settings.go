package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mycelium-go/mycelium/adapters/openai/client"
	"github.com/mycelium-go/mycelium/adapters/openai/serve"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Default ports of the two services.
const (
	DefaultServePort uint16 = 8080  // overlay port of the serve role
	DefaultLocalPort uint16 = 11435 // loopback port of the client role
)

// Settings is the plugin's settings table. A role whose section is absent
// is off: its service answers 503.
type Settings struct {
	Serve  *ServeSettings  `json:"serve"`
	Client *ClientSettings `json:"client"`
}

// ServeSettings configures the serve role.
type ServeSettings struct {
	// Upstream is the model server's OpenAI base URL, with /v1, e.g.
	// "http://127.0.0.1:11434/v1" (Ollama). Required.
	Upstream string `json:"upstream"`
	// UpstreamAPIKey is sent upstream as a Bearer token; never shown to
	// callers. Optional.
	UpstreamAPIKey string `json:"upstream_api_key"`
	// Models, if set, is the allow-list of model ids offered.
	Models []string `json:"models"`
	// AllowLoopback also serves callers on the loopback listener, without
	// a key (for local testing; the node must open that listener).
	AllowLoopback bool `json:"allow_loopback"`
	// RequestsPerMinute and TokensPerMinute are every peer's default
	// budget; 0 is unlimited. Defaults 60 and 100000.
	RequestsPerMinute *int64 `json:"requests_per_minute"`
	TokensPerMinute   *int64 `json:"tokens_per_minute"`
	// PeerLimits overrides the budget per peer key (64 hex digits, or
	// "loopback"); an omitted field keeps the default.
	PeerLimits map[string]LimitSettings `json:"peer_limits"`
	// InjectStreamUsage asks the upstream for usage in streams whose
	// caller did not, and strips that chunk. Default true.
	InjectStreamUsage *bool `json:"inject_stream_usage"`
	// MaxBodyBytes bounds a request body. Default 32 MiB.
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// HeaderTimeout bounds the wait for the upstream's response headers.
	// Default "10m"; "0s" disables it.
	HeaderTimeout *Duration `json:"header_timeout"`
	// StreamIdleTimeout ends a stream the upstream stopped feeding.
	// Default "5m"; "0s" disables it.
	StreamIdleTimeout *Duration `json:"stream_idle_timeout"`
	// AnnounceTo are the keys of client-role nodes to announce this
	// service to over the message bus. Optional.
	AnnounceTo []string `json:"announce_to"`
	// AnnounceInterval is the time between announcements. Default "60s".
	AnnounceInterval Duration `json:"announce_interval"`
}

// LimitSettings is one peer's budget.
type LimitSettings struct {
	RequestsPerMinute *int64 `json:"requests_per_minute"`
	TokensPerMinute   *int64 `json:"tokens_per_minute"`
}

// ClientSettings configures the client role.
type ClientSettings struct {
	// APIKey is the local API key apps send as a Bearer token. Required
	// unless NoAuth.
	APIKey string `json:"api_key"`
	// NoAuth serves local apps without a key. Must be set explicitly.
	NoAuth bool `json:"no_auth"`
	// Nodes are the AI nodes' public keys, each optionally ":port".
	Nodes []string `json:"nodes"`
	// Port is the serve role's overlay port on the nodes. Default 8080.
	Port uint16 `json:"port"`
	// RefreshInterval between model-list checks of every node. Default "30s".
	RefreshInterval Duration `json:"refresh_interval"`
	// ModelsTTL: how long a node's model list is used without a
	// successful check. Default "10m".
	ModelsTTL Duration `json:"models_ttl"`
	// DialTimeout bounds connecting to a node. Default "10s".
	DialTimeout Duration `json:"dial_timeout"`
	// HealthTimeout bounds one check. Default "10s".
	HealthTimeout Duration `json:"health_timeout"`
	// Discovery adds nodes that announce the service on the message bus.
	Discovery bool `json:"discovery"`
	// DiscoveryFrom limits discovery to these keys; empty accepts any.
	DiscoveryFrom []string `json:"discovery_from"`
	// MaxBodyBytes bounds a request body. Default 32 MiB.
	MaxBodyBytes int64 `json:"max_body_bytes"`
}

// Duration is a time.Duration written as a Go duration string ("30s") or
// a number of seconds.
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("duration must be a string like \"30s\" or a number of seconds, got %s", b)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// or returns d, or def if d is zero.
func (d Duration) or(def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}

// ParseSettings decodes the settings JSON, rejecting unknown fields. Empty
// settings turn both roles off.
func ParseSettings(raw json.RawMessage) (Settings, error) {
	var s Settings
	if len(bytes.TrimSpace(raw)) == 0 {
		return s, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("openai settings: %w", err)
	}
	if dec.More() {
		return s, errors.New("openai settings: trailing data after the settings object")
	}
	return s, nil
}

func orInt(p *int64, def int64) int64 {
	if p == nil {
		return def
	}
	return *p
}

// serveConfig turns the serve settings into a serve.Config.
func (s *ServeSettings) serveConfig() (serve.Config, error) {
	u, err := url.Parse(s.Upstream)
	if err != nil || s.Upstream == "" {
		return serve.Config{}, fmt.Errorf("serve.upstream %q: must be a URL like http://127.0.0.1:11434/v1", s.Upstream)
	}
	def := serve.Limit{RequestsPerMinute: orInt(s.RequestsPerMinute, 60), TokensPerMinute: orInt(s.TokensPerMinute, 100000)}
	per := make(map[string]serve.Limit, len(s.PeerLimits))
	for label, l := range s.PeerLimits {
		if label != "loopback" {
			k, err := sdk.ParsePublicKey(label)
			if err != nil {
				return serve.Config{}, fmt.Errorf("serve.peer_limits: %w", err)
			}
			label = k.String() // normalise case
		}
		per[label] = serve.Limit{
			RequestsPerMinute: orInt(l.RequestsPerMinute, def.RequestsPerMinute),
			TokensPerMinute:   orInt(l.TokensPerMinute, def.TokensPerMinute),
		}
	}
	cfg := serve.Config{
		Upstream: u, UpstreamKey: s.UpstreamAPIKey, Models: s.Models, AllowLoopback: s.AllowLoopback,
		DefaultLimit: def, PeerLimits: per,
		InjectStreamUsage: s.InjectStreamUsage == nil || *s.InjectStreamUsage,
		MaxBodyBytes:      s.MaxBodyBytes,
		HeaderTimeout:     durationOr(s.HeaderTimeout, 10*time.Minute),
		StreamIdleTimeout: durationOr(s.StreamIdleTimeout, 5*time.Minute),
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 32 << 20
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("serve settings: %w", err)
	}
	return cfg, nil
}

func durationOr(d *Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return time.Duration(*d)
}

// announceTo parses the announce_to keys.
func (s *ServeSettings) announceTo() ([]sdk.PublicKey, error) {
	keys, err := parseKeys(s.AnnounceTo)
	if err != nil {
		return nil, fmt.Errorf("serve.announce_to: %w", err)
	}
	return keys, nil
}

func parseKeys(in []string) ([]sdk.PublicKey, error) {
	out := make([]sdk.PublicKey, 0, len(in))
	for _, s := range in {
		k, err := sdk.ParsePublicKey(strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// clientConfig turns the client settings into a client.Config.
func (c *ClientSettings) clientConfig() (client.Config, error) {
	cfg := client.Config{
		APIKey: c.APIKey, NoAuth: c.NoAuth, Port: c.Port,
		RefreshInterval: c.RefreshInterval.or(30 * time.Second),
		ModelsTTL:       c.ModelsTTL.or(10 * time.Minute),
		DialTimeout:     c.DialTimeout.or(10 * time.Second),
		HealthTimeout:   c.HealthTimeout.or(10 * time.Second),
		Discovery:       c.Discovery,
		MaxBodyBytes:    c.MaxBodyBytes,
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultServePort
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 32 << 20
	}
	for _, n := range c.Nodes {
		node, err := parseNode(n)
		if err != nil {
			return cfg, fmt.Errorf("client.nodes: %w", err)
		}
		cfg.Nodes = append(cfg.Nodes, node)
	}
	var err error
	if cfg.DiscoveryFrom, err = parseKeys(c.DiscoveryFrom); err != nil {
		return cfg, fmt.Errorf("client.discovery_from: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("client settings: %w", err)
	}
	return cfg, nil
}

// parseNode parses "key" or "key:port".
func parseNode(s string) (client.Node, error) {
	keyText, portText, hasPort := strings.Cut(strings.TrimSpace(s), ":")
	k, err := sdk.ParsePublicKey(keyText)
	if err != nil {
		return client.Node{}, err
	}
	n := client.Node{Key: k}
	if hasPort {
		p, err := strconv.ParseUint(portText, 10, 16)
		if err != nil || p == 0 {
			return n, fmt.Errorf("node %q: bad port %q", s, portText)
		}
		n.Port = uint16(p)
	}
	return n, nil
}
