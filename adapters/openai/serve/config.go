package serve

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Limit is a per-peer budget. Zero means unlimited.
type Limit struct {
	RequestsPerMinute int64
	TokensPerMinute   int64
}

// Config configures a Handler.
type Config struct {
	// Upstream is the base URL of the model server's OpenAI API, with its
	// /v1, e.g. http://127.0.0.1:11434/v1.
	Upstream *url.URL
	// UpstreamKey, if set, is sent upstream as "Authorization: Bearer".
	// Callers never see it.
	UpstreamKey string
	// Models, if not empty, is the allow-list of model ids offered; other
	// models are hidden from listings and answered with 404.
	Models []string
	// AllowLoopback serves loopback-origin callers (no key; for local
	// testing). Off, only overlay peers are served.
	AllowLoopback bool
	// DefaultLimit is every peer's budget unless PeerLimits has one for
	// its label (the 64-hex-digit key, or "loopback").
	DefaultLimit Limit
	PeerLimits   map[string]Limit
	// InjectStreamUsage asks the upstream for a usage chunk in streams
	// whose caller did not (stream_options.include_usage), and removes
	// that chunk before it reaches the caller.
	InjectStreamUsage bool
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
	// HeaderTimeout bounds the wait for the upstream's response headers
	// (prompt processing of a non-streamed request counts). Zero: none.
	HeaderTimeout time.Duration
	// StreamIdleTimeout ends a stream whose upstream sends nothing for this
	// long. Zero: none.
	StreamIdleTimeout time.Duration
}

// Validate checks c.
func (c *Config) Validate() error {
	var errs []error
	if c.Upstream == nil || (c.Upstream.Scheme != "http" && c.Upstream.Scheme != "https") || c.Upstream.Host == "" {
		errs = append(errs, errors.New("upstream must be an absolute http or https URL"))
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("max body bytes must be positive"))
	}
	for label, l := range c.PeerLimits {
		if l.RequestsPerMinute < 0 || l.TokensPerMinute < 0 {
			errs = append(errs, fmt.Errorf("limit for %s is negative", label))
		}
	}
	if c.DefaultLimit.RequestsPerMinute < 0 || c.DefaultLimit.TokensPerMinute < 0 {
		errs = append(errs, errors.New("default limit is negative"))
	}
	if c.HeaderTimeout < 0 || c.StreamIdleTimeout < 0 {
		errs = append(errs, errors.New("timeouts must not be negative"))
	}
	return errors.Join(errs...)
}
