package sdk

import (
	"context"
	"errors"
	"fmt"
)

// ErrConfigRejected is wrapped by PluginClient.Configure when the plugin's
// own Configure returned an error (bad settings and the like), as opposed
// to the call failing.
var ErrConfigRejected = errors.New("sdk: plugin rejected its configuration")

// PluginClient is the host's handle on a running plugin's control plane,
// obtained from the go-plugin client (see Dispense). Methods are safe for
// concurrent use and honour ctx.
type PluginClient interface {
	// Describe returns the plugin's validated description.
	Describe(ctx context.Context) (Description, error)
	// Configure configures the plugin, which then starts serving every
	// service. It fails with ErrConfigRejected when the plugin refuses cfg.
	// A plugin is configured once; after a success, calling again fails.
	Configure(ctx context.Context, cfg Config, host HostServices) error
	// Health reports the plugin's state.
	Health(ctx context.Context) (Health, error)
	// Done is closed when the plugin process has exited.
	Done() <-chan struct{}
}

// HostServices is what the host offers a plugin at Configure.
type HostServices struct {
	// Callbacks serves the plugin's Host calls. Nil: they fail with
	// errors.ErrUnsupported.
	Callbacks HostServer
	// SOCKSPath is the unix socket of the node's SOCKS5 dial-out, which
	// Host.Dial uses. Empty: Dial fails with errors.ErrUnsupported.
	SOCKSPath string
}

// HealthChecker is an optional interface for a Plugin: when implemented,
// the SDK calls it for every health request and reports its error.
type HealthChecker interface {
	Health(ctx context.Context) error
}

// Health is a plugin's state as reported to the host.
type Health struct {
	Configured bool
	Services   []ServiceHealth
	// Err is the plugin's HealthChecker result; empty when healthy.
	Err string
}

// ServiceHealth is the state of one service.
type ServiceHealth struct {
	Name    string
	Serving bool   // its Serve is running
	Err     string // why Serve returned, if it did with an error
}

// OK reports whether the plugin is configured, healthy, and serving every
// service.
func (h Health) OK() bool {
	if !h.Configured || h.Err != "" {
		return false
	}
	for _, s := range h.Services {
		if !s.Serving {
			return false
		}
	}
	return true
}

// Validate checks a description: a valid plugin name, valid and unique
// service names, a protocol and TLS mode for each, and no port used twice.
func (d Description) Validate() error {
	if err := ValidateServiceName(d.Name); err != nil {
		return fmt.Errorf("sdk: plugin name: %w", err)
	}
	names := map[string]bool{}
	ports, loopPorts := map[uint16]string{}, map[uint16]string{}
	for _, s := range d.Services {
		if err := ValidateServiceName(s.Name); err != nil {
			return fmt.Errorf("sdk: plugin %s: %w", d.Name, err)
		}
		if names[s.Name] {
			return fmt.Errorf("sdk: plugin %s: service %s described twice", d.Name, s.Name)
		}
		names[s.Name] = true
		if s.Protocol == "" {
			return fmt.Errorf("sdk: plugin %s: service %s has no protocol", d.Name, s.Name)
		}
		switch s.TLS {
		case TLSNone, TLSStartTLS, TLSImplicit:
		default:
			return fmt.Errorf("sdk: plugin %s: service %s: unknown TLS mode %q", d.Name, s.Name, s.TLS)
		}
		if err := claimPort(ports, s.Port, s.Name, "overlay"); err != nil {
			return fmt.Errorf("sdk: plugin %s: %w", d.Name, err)
		}
		if err := claimPort(loopPorts, s.LoopbackPort, s.Name, "loopback"); err != nil {
			return fmt.Errorf("sdk: plugin %s: %w", d.Name, err)
		}
	}
	return nil
}

func claimPort(used map[uint16]string, port uint16, service, kind string) error {
	if port == 0 {
		return nil
	}
	if other, ok := used[port]; ok {
		return fmt.Errorf("services %s and %s both use %s port %d", other, service, kind, port)
	}
	used[port] = service
	return nil
}
