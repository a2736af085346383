package client

import (
	"errors"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Node is a configured AI node.
type Node struct {
	Key  sdk.PublicKey
	Port uint16 // overlay port of its serve role; 0: Config.Port
}

// Config configures a Handler.
type Config struct {
	// APIKey is the local API key local apps send as "Authorization:
	// Bearer <key>". Required unless NoAuth.
	APIKey string
	// NoAuth serves local apps without a key. It must be set explicitly.
	NoAuth bool
	// Nodes are the AI nodes to use.
	Nodes []Node
	// Port is the serve role's overlay port on nodes that do not name one.
	Port uint16
	// RefreshInterval is how often the checker lists each node's models.
	RefreshInterval time.Duration
	// ModelsTTL is how long a node's model list is used without a
	// successful refresh (a node that is down keeps its list this long, as
	// a last resort).
	ModelsTTL time.Duration
	// DialTimeout bounds connecting to a node over the mesh.
	DialTimeout time.Duration
	// HealthTimeout bounds one check of one node.
	HealthTimeout time.Duration
	// Discovery adds the nodes that announce the service on the message
	// bus (wire.AnnounceTopic). DiscoveryFrom, if not empty, limits it to
	// those keys: a discovered node receives the prompts routed to it.
	Discovery     bool
	DiscoveryFrom []sdk.PublicKey
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
}

// Validate checks c.
func (c *Config) Validate() error {
	var errs []error
	switch {
	case c.NoAuth && c.APIKey != "":
		errs = append(errs, errors.New("api key and no_auth are exclusive"))
	case !c.NoAuth && c.APIKey == "":
		errs = append(errs, errors.New("an api key is required (or set no_auth explicitly)"))
	}
	if c.Port == 0 {
		errs = append(errs, errors.New("port must not be zero"))
	}
	if c.RefreshInterval < time.Second || c.ModelsTTL < c.RefreshInterval {
		errs = append(errs, errors.New("refresh interval must be at least 1s and models ttl at least the refresh interval"))
	}
	if c.DialTimeout <= 0 || c.HealthTimeout <= 0 {
		errs = append(errs, errors.New("dial and health timeouts must be positive"))
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("max body bytes must be positive"))
	}
	seen := make(map[sdk.PublicKey]bool)
	for _, n := range c.Nodes {
		if n.Key.IsZero() || seen[n.Key] {
			errs = append(errs, errors.New("nodes must be distinct, non-zero keys"))
			break
		}
		seen[n.Key] = true
	}
	return errors.Join(errs...)
}
