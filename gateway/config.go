package gateway

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/mycelium-go/mycelium/gateway/acl"
	"github.com/mycelium-go/mycelium/gateway/ca"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("gateway: bad config")

// Config is the gateway's part of the node's TOML configuration. Embed it
// in the node's top-level config struct (anonymously, or with these
// tags), so its tables are top-level tables of the file:
//
//	[gateway]  [ca]  [[plugin]]  [groups]  [policy.<service>]  [[forward]]
type Config struct {
	// Gateway holds the supervisor's settings.
	Gateway Settings `toml:"gateway" json:"gateway"`
	// CA configures the node's local certificate authority.
	CA CAConfig `toml:"ca" json:"ca"`
	// Plugins lists the plugins to run, in start order.
	Plugins []PluginConfig `toml:"plugin" json:"plugin,omitempty"`
	// Groups names sets of public keys for the policy ("group:<name>").
	Groups map[string][]string `toml:"groups" json:"groups,omitempty"`
	// Policy maps a service name to who may reach it over the overlay.
	// Services without an entry refuse every overlay peer.
	Policy map[string]acl.Rule `toml:"policy" json:"policy,omitempty"`
	// Forwards are local ports forwarded to services on other nodes.
	Forwards []ForwardConfig `toml:"forward" json:"forward,omitempty"`
}

// Settings are the supervisor's knobs ([gateway]). Zero values mean the
// defaults of Default.
type Settings struct {
	// Names are DNS names this node answers to: they go into NodeInfo and
	// the TLS certificates of the plugins.
	Names []string `toml:"names" json:"names,omitempty"`
	// PluginDir is where plugin binaries live when a plugin has no path;
	// default: the "plugins" directory next to the mycelium binary.
	PluginDir string `toml:"plugin_dir" json:"plugin_dir,omitempty"`
	// SocketDir is a private (0700) directory for the plugins' data
	// sockets and the SOCKS5 dial-out socket (.socks5). Keep it short: unix
	// socket paths are limited to about 100 bytes. Default: a fresh
	// directory under the system's temporary directory.
	SocketDir string `toml:"socket_dir" json:"socket_dir,omitempty"`
	// MaxConnections bounds, per service, the connections being handed off
	// plus those the gateway carries itself (spliced ones).
	MaxConnections int `toml:"max_connections" json:"max_connections,omitempty"`
	// StartTimeout bounds a plugin's start and handshake.
	StartTimeout Duration `toml:"start_timeout" json:"start_timeout,omitempty"`
	// RestartWait is how long a new connection waits for its plugin while
	// the plugin restarts, before it is closed.
	RestartWait Duration `toml:"restart_wait" json:"restart_wait,omitempty"`
	// HealthInterval is the period of health checks.
	HealthInterval Duration `toml:"health_interval" json:"health_interval,omitempty"`
	// MaxBackoff caps the delay between restarts of a failing plugin.
	MaxBackoff Duration `toml:"max_backoff" json:"max_backoff,omitempty"`
}

// CAConfig configures the local CA ([ca]).
type CAConfig struct {
	// Disabled turns the CA off: plugins get no TLS material.
	Disabled bool `toml:"disabled" json:"disabled,omitempty"`
}

// PluginConfig is one [[plugin]] entry.
type PluginConfig struct {
	// Name identifies the plugin; it names its data directory and its
	// subcommand (`mycelium <name> ...`).
	Name string `toml:"name" json:"name"`
	// Path is the plugin binary; default <plugin_dir>/<name>.
	Path string `toml:"path" json:"path,omitempty"`
	// SHA256 is the binary's expected SHA-256 (64 hex digits), checked
	// before every start.
	SHA256 string `toml:"sha256" json:"sha256,omitempty"`
	// Enabled, when false, keeps the plugin configured but stopped.
	Enabled *bool `toml:"enabled" json:"enabled,omitempty"`
	// Settings is the plugin's own table, handed over as JSON.
	Settings map[string]any `toml:"settings" json:"settings,omitempty"`
	// Services overrides the listeners of the plugin's services, by name.
	Services map[string]ServiceConfig `toml:"services" json:"services,omitempty"`
}

// ServiceConfig overrides where one service listens.
type ServiceConfig struct {
	// Enabled, when false, opens no listener for the service.
	Enabled *bool `toml:"enabled" json:"enabled,omitempty"`
	// Port is the port on the overlay address; 0 keeps the service off the
	// overlay. Default: the plugin's.
	Port *uint16 `toml:"port" json:"port,omitempty"`
	// Loopback lists loopback listen addresses ("127.0.0.1:1587",
	// "[::1]:1587"); an empty list means none. Default: the plugin's
	// loopback port on both 127.0.0.1 and ::1.
	Loopback *[]string `toml:"loopback" json:"loopback,omitempty"`
}

// ForwardConfig is one [[forward]]: a local port forwarded to a service on
// another node, which sees this node's key.
type ForwardConfig struct {
	// Local is the loopback address to listen on, e.g. "127.0.0.1:1143".
	Local string `toml:"local" json:"local"`
	// Remote is "<64-hex public key>:<port>" or "[<overlay address>]:<port>".
	Remote string `toml:"remote" json:"remote"`
}

// Duration is a time.Duration written as a string ("10s", "1m30s") in
// TOML and JSON.
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalText formats d as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Default values of Settings.
const (
	DefaultMaxConnections = 1024
	DefaultStartTimeout   = 10 * time.Second
	DefaultRestartWait    = 2 * time.Second
	DefaultHealthInterval = 10 * time.Second
	DefaultMaxBackoff     = 30 * time.Second
)

// Default returns a Config with every default filled in and no plugins.
func Default() Config {
	var c Config
	c.Gateway.fill()
	return c
}

// fill replaces zero settings with defaults.
func (s *Settings) fill() {
	if s.MaxConnections == 0 {
		s.MaxConnections = DefaultMaxConnections
	}
	setDefault(&s.StartTimeout, DefaultStartTimeout)
	setDefault(&s.RestartWait, DefaultRestartWait)
	setDefault(&s.HealthInterval, DefaultHealthInterval)
	setDefault(&s.MaxBackoff, DefaultMaxBackoff)
}

func setDefault(d *Duration, v time.Duration) {
	if *d == 0 {
		*d = Duration(v)
	}
}

// Validate checks the whole configuration; errors name the bad entry.
func (c *Config) Validate() error {
	if err := c.Gateway.validate(); err != nil {
		return err
	}
	names := map[string]bool{}
	for i := range c.Plugins {
		p := &c.Plugins[i]
		if err := p.validate(); err != nil {
			return fmt.Errorf("%w: plugin[%d]: %w", ErrConfig, i, err)
		}
		if names[p.Name] {
			return fmt.Errorf("%w: plugin[%d]: plugin %q configured twice", ErrConfig, i, p.Name)
		}
		names[p.Name] = true
	}
	if _, err := c.policy(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	locals := map[netip.AddrPort]bool{}
	for i, f := range c.Forwards {
		spec, err := parseForward(f)
		if err != nil {
			return fmt.Errorf("%w: forward[%d]: %w", ErrConfig, i, err)
		}
		if locals[spec.local] {
			return fmt.Errorf("%w: forward[%d]: local address %s used twice", ErrConfig, i, spec.local)
		}
		locals[spec.local] = true
	}
	return nil
}

func (s *Settings) validate() error {
	for i, n := range s.Names {
		if err := ca.ValidateDNSName(n); err != nil {
			return fmt.Errorf("%w: gateway.names[%d]: %w", ErrConfig, i, err)
		}
	}
	if s.MaxConnections < 0 {
		return fmt.Errorf("%w: gateway.max_connections is negative", ErrConfig)
	}
	for name, d := range map[string]Duration{
		"start_timeout": s.StartTimeout, "restart_wait": s.RestartWait,
		"health_interval": s.HealthInterval, "max_backoff": s.MaxBackoff,
	} {
		if d < 0 {
			return fmt.Errorf("%w: gateway.%s is negative", ErrConfig, name)
		}
	}
	return nil
}

func (p *PluginConfig) validate() error {
	if err := acl.ValidateName(p.Name); err != nil {
		return fmt.Errorf("name: %w", err)
	}
	if _, err := p.checksum(); err != nil {
		return err
	}
	if _, err := json.Marshal(p.Settings); err != nil {
		return fmt.Errorf("plugin %s: settings cannot be converted to JSON: %w", p.Name, err)
	}
	for svc, sc := range p.Services {
		if err := acl.ValidateName(svc); err != nil {
			return fmt.Errorf("plugin %s: services: %w", p.Name, err)
		}
		if _, err := sc.loopbackAddrs(); err != nil {
			return fmt.Errorf("plugin %s: services.%s.loopback: %w", p.Name, svc, err)
		}
	}
	return nil
}

// enabled reports whether the plugin should run.
func (p *PluginConfig) enabled() bool { return p.Enabled == nil || *p.Enabled }

// checksum decodes SHA256; nil when unset.
func (p *PluginConfig) checksum() ([]byte, error) {
	if p.SHA256 == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(p.SHA256)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("plugin %s: sha256 %q is not 64 hex digits", p.Name, p.SHA256)
	}
	return b, nil
}

// binary returns the plugin's executable path.
func (p *PluginConfig) binary(pluginDir string) string {
	if p.Path != "" {
		return p.Path
	}
	return filepath.Join(pluginDir, p.Name)
}

// settingsJSON converts the settings table to JSON ("{}" when empty).
func (p *PluginConfig) settingsJSON() (json.RawMessage, error) {
	if len(p.Settings) == 0 {
		return json.RawMessage("{}"), nil
	}
	b, err := json.Marshal(p.Settings)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: settings: %w", p.Name, err)
	}
	return b, nil
}

// loopbackAddrs parses Loopback; nil with ok when unset.
func (s ServiceConfig) loopbackAddrs() ([]netip.AddrPort, error) {
	if s.Loopback == nil {
		return nil, nil
	}
	out := []netip.AddrPort{}
	for _, a := range *s.Loopback {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			return nil, fmt.Errorf("%q: want 127.0.0.1:port or [::1]:port: %w", a, err)
		}
		if !ap.Addr().Unmap().IsLoopback() || ap.Port() == 0 {
			return nil, fmt.Errorf("%q: loopback listeners need a loopback address and a port", a)
		}
		out = append(out, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
	}
	return out, nil
}

// policy compiles the access policy.
func (c *Config) policy() (*acl.Policy, error) {
	return acl.Compile(acl.Config{Groups: c.Groups, Services: c.Policy})
}

// defaultPluginDir is the "plugins" directory next to the running binary.
func defaultPluginDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "plugins"
	}
	return filepath.Join(filepath.Dir(exe), "plugins")
}
