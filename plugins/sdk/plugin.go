package sdk

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
)

// Plugin is what a plugin author implements. The SDK calls Describe, then
// Configure once, then Serve once for every service in the description,
// each in its own goroutine, with a listener of handed-off connections.
type Plugin interface {
	// Describe returns the plugin's name and the services it offers. It is
	// called before Configure and must not depend on configuration.
	Describe(ctx context.Context) (Description, error)
	// Configure gives the plugin its settings, data directory and TLS
	// material, and the host callbacks. It must validate the settings and
	// return a clear error if they are wrong.
	Configure(ctx context.Context, cfg Config, host Host) error
	// Serve serves one service on ln until ctx ends. Every accepted
	// net.Conn is a *Conn carrying the peer identity. Serve should return
	// nil after ctx ends.
	Serve(ctx context.Context, service string, ln net.Listener) error
}

// Commander is an optional interface. A plugin that implements it offers
// command-line subcommands, run as `mycelium <plugin> <command> args...`:
// the node executes the plugin binary with the arguments (outside
// go-plugin), and the SDK calls RunCommand with the same configuration the
// plugin would get from Configure.
type Commander interface {
	RunCommand(ctx context.Context, env CommandEnv, args []string) error
}

// CommandEnv is the environment of a plugin subcommand.
type CommandEnv struct {
	Config           // settings, data dir, node info and TLS material
	Stdin  io.Reader // the terminal's standard input
	Stdout io.Writer // command output
	Stderr io.Writer // diagnostics
}

// Description lists what a plugin offers.
type Description struct {
	Name     string        // plugin name, e.g. "mail"
	Version  string        // plugin build version, informational
	Services []ServiceSpec // the services; names unique within the plugin
}

// TLSMode says how a service uses TLS.
type TLSMode string

const (
	TLSNone     TLSMode = "none"     // plain protocol (the overlay already encrypts)
	TLSStartTLS TLSMode = "starttls" // protocol-level upgrade (SMTP 587, IMAP 143)
	TLSImplicit TLSMode = "implicit" // TLS from the first byte (SMTPS 465, IMAPS 993, HTTPS)
)

// ServiceSpec describes one service of a plugin. The ports are defaults;
// the node's config can move or disable either listener.
type ServiceSpec struct {
	Name     string // e.g. "submission", "imaps", "webdav"
	Protocol string // e.g. "smtp", "imap", "http"
	Port     uint16 // default port on the overlay address; 0: not on the overlay by default
	// LoopbackPort is the default port of the loopback listener
	// (127.0.0.1 and ::1); 0: no loopback listener by default. Loopback
	// ports are usually unprivileged (e.g. 1587 for 587).
	LoopbackPort uint16
	TLS          TLSMode // how the service uses TLS; the plugin terminates it
}

// Config is what the host gives a plugin in Configure.
type Config struct {
	// Settings is the plugin's own config section from the node's TOML
	// file, converted to JSON. Unmarshal it into the plugin's own struct.
	Settings json.RawMessage
	// DataDir is a directory owned by this plugin, created by the host.
	DataDir string
	// Node describes the node the plugin runs under.
	Node NodeInfo
	// TLS is the certificate the node's CA issued for this plugin's
	// services, and the CA certificate. Nil if the node has no CA.
	TLS *TLSMaterial
	// Services maps each service name to where the gateway listens for it.
	Services map[string]ServiceBinding
}

// NodeInfo describes the hosting node.
type NodeInfo struct {
	PublicKey PublicKey
	Address   netip.Addr   // the node's overlay address
	Subnet    netip.Prefix // the node's /64
	Names     []string     // DNS-style names the node answers to, if any
	// Services are the services of every plugin on the node, this one's
	// included, sorted by plugin and service name. For a subcommand they
	// are complete: the node describes every enabled plugin of its
	// configuration. In Configure they are a snapshot: this plugin's own
	// services plus those the node listened for at that moment; plugins
	// start in parallel, so others may be missing. A running plugin asks
	// NodeServicesOf(ctx, host) when it needs the current set.
	Services []NodeService
}

// ServiceBinding tells a plugin where clients reach one of its services.
type ServiceBinding struct {
	Overlay  netip.AddrPort // zero if the service is not on the overlay
	Loopback netip.AddrPort // zero if there is no loopback listener
}

// TLSMaterial holds PEM-encoded TLS material.
type TLSMaterial struct {
	CertPEM []byte // leaf certificate, then intermediates
	KeyPEM  []byte // private key of the leaf
	CAPEM   []byte // the node CA's certificate
}

// ServerConfig builds a tls.Config for serving with this material.
func (m *TLSMaterial) ServerConfig() (*tls.Config, error) {
	if m == nil {
		return nil, errors.New("sdk: no TLS material")
	}
	cert, err := tls.X509KeyPair(m.CertPEM, m.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("sdk: load TLS key pair: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// CAPool returns a pool holding the node CA, for clients that dial other
// services of this node.
func (m *TLSMaterial) CAPool() (*x509.CertPool, error) {
	if m == nil {
		return nil, errors.New("sdk: no TLS material")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(m.CAPEM) {
		return nil, errors.New("sdk: no CA certificate in PEM")
	}
	return pool, nil
}
