// Package launch starts mycelium plugin processes for the gateway. Start
// builds the plugin's command (inherited data plane, lifeline, death
// signal, private socket directory) and go-plugin client, performs the
// handshake, and returns a Plugin: its control-plane client, its hand-off
// sender, and Kill. Start can be called again after a plugin died; the
// restart policy belongs to the caller.
//
// Command builds the command for a plugin subcommand (`mycelium mail
// adduser ...`), which runs outside go-plugin.
package launch

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// DefaultStartTimeout bounds the handshake when Config.StartTimeout is 0.
const DefaultStartTimeout = 10 * time.Second

// Config describes one plugin process.
type Config struct {
	// Name is the plugin's name; it names the data socket and tags logs.
	Name string
	// Path is the plugin executable.
	Path string
	// Args are extra command-line arguments; plugins normally need none.
	Args []string
	// SHA256, if set, is the expected SHA-256 digest of Path, checked by
	// go-plugin before exec.
	SHA256 []byte
	// DataDir is the plugin's working directory, created (0700) if
	// missing. Pass the same directory in sdk.Config.DataDir.
	DataDir string
	// SocketDir is a private directory (created, forced to 0700) for the
	// data socket and go-plugin's own socket. Keep it short: unix socket
	// paths are limited to about 100 bytes.
	SocketDir string
	// StartTimeout bounds the start and handshake; 0 means
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// Logger receives go-plugin's messages and the plugin's log lines,
	// re-emitted at their levels. Required.
	Logger *slog.Logger
	// LogLevel is passed to the plugin in sdk.EnvLogLevel.
	LogLevel slog.Level
	// Env holds extra "KEY=value" entries for the plugin's environment.
	Env []string
}

func (c *Config) validate() error {
	switch {
	case sdk.ValidateServiceName(c.Name) != nil:
		return fmt.Errorf("bad plugin name %q", c.Name)
	case c.Path == "":
		return errors.New("no plugin path")
	case c.DataDir == "":
		return errors.New("no data directory")
	case c.SocketDir == "":
		return errors.New("no socket directory")
	case c.Logger == nil:
		return errors.New("no logger")
	case c.SHA256 != nil && len(c.SHA256) != sha256.Size:
		return fmt.Errorf("SHA-256 checksum of %d bytes, want %d", len(c.SHA256), sha256.Size)
	}
	return nil
}

// Plugin is a running plugin process.
type Plugin struct {
	// Client is the plugin's control plane: Describe, Configure, Health.
	Client sdk.PluginClient
	// Handoff hands connections to the plugin.
	Handoff *sdk.Handoff

	client   *plugin.Client
	cmd      *exec.Cmd
	data     *sdk.DataPlane
	lifeline *os.File // write end; closing it tells the plugin to exit
	pid      int
	version  int
	done     chan struct{}
	killOnce sync.Once
}

type startResult struct {
	client sdk.PluginClient
	err    error
}

// Start starts the plugin described by cfg and completes go-plugin's
// handshake. The process is spawned from a goroutine locked to its OS
// thread for the plugin's whole life, because Linux delivers the death
// signal (Pdeathsig) when the thread that forked the child exits, not the
// process. ctx's deadline bounds the start together with StartTimeout; if
// ctx ends before the start finishes, the plugin is killed and Start
// fails. ctx does not bound the plugin's life.
func Start(ctx context.Context, cfg Config) (*Plugin, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < cfg.StartTimeout {
		cfg.StartTimeout = max(time.Until(dl), time.Millisecond)
	}
	if err := prepareDirs(cfg); err != nil {
		return nil, fmt.Errorf("launch %s: %w", cfg.Name, err)
	}
	data, err := sdk.NewDataPlane(filepath.Join(cfg.SocketDir, cfg.Name+".sock"))
	if err != nil {
		return nil, fmt.Errorf("launch %s: %w", cfg.Name, err)
	}
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		_ = data.Close()
		return nil, fmt.Errorf("launch %s: lifeline: %w", cfg.Name, err)
	}
	p := &Plugin{Handoff: data.Handoff, data: data, lifeline: lifeW, done: make(chan struct{})}
	p.cmd = buildCmd(cfg, data, lifeR)
	p.client = plugin.NewClient(clientConfig(cfg, p.cmd))

	res := make(chan startResult, 1)
	go p.run(res)
	r := <-res
	data.ClosePluginFiles()
	_ = lifeR.Close()
	if r.err == nil {
		r.err = ctx.Err()
	}
	if r.err != nil {
		// Nothing to stop gracefully; anything the binary spawned would
		// keep go-plugin waiting on its output pipes.
		killGroup(p.cmd)
		p.Kill()
		return nil, fmt.Errorf("launch %s: %w", cfg.Name, r.err)
	}
	p.Client = r.client
	p.version = p.client.NegotiatedVersion()
	if rc := p.client.ReattachConfig(); rc != nil {
		p.pid = rc.Pid
	}
	return p, nil
}

// run starts the process on a locked OS thread and keeps the thread until
// the process exits. The thread is never unlocked: when run returns, Go
// ends the thread, which kills a child that is somehow still alive.
func (p *Plugin) run(res chan<- startResult) {
	runtime.LockOSThread()
	defer close(p.done)
	proto, err := p.client.Client()
	if err != nil {
		res <- startResult{err: err}
		return
	}
	pc, err := sdk.Dispense(proto)
	if err != nil {
		res <- startResult{err: err}
		return
	}
	res <- startResult{client: pc}
	<-pc.Done()
}

// killGrace is how long Kill lets go-plugin stop the plugin (it asks,
// waits 2 s, then kills the process) before killing its process group.
const killGrace = 4 * time.Second

// Kill stops the plugin: go-plugin asks it to shut down, waits up to 2 s,
// then kills it; whatever of its process group still runs after killGrace
// is killed too. Kill then closes the lifeline and the data plane and
// returns once the process has exited. It is idempotent.
func (p *Plugin) Kill() {
	p.killOnce.Do(func() {
		stopped := make(chan struct{})
		go func() { p.client.Kill(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(killGrace):
			killGroup(p.cmd)
			<-stopped
		}
		_ = p.lifeline.Close()
		_ = p.data.Close()
	})
	<-p.done
}

// Done is closed when the plugin process has exited (or never started).
func (p *Plugin) Done() <-chan struct{} { return p.done }

// Pid is the plugin's process id.
func (p *Plugin) Pid() int { return p.pid }

// ProtocolVersion is the negotiated plugin protocol version.
func (p *Plugin) ProtocolVersion() int { return p.version }

func prepareDirs(cfg Config) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if err := os.MkdirAll(cfg.SocketDir, 0o700); err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	if err := os.Chmod(cfg.SocketDir, 0o700); err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	return nil
}

// buildCmd returns the plugin's command: the data plane and lifeline as
// inherited descriptors 3, 4 and 5, a controlled environment, its own
// process group, and the death signal where the OS has one.
func buildCmd(cfg Config, data *sdk.DataPlane, lifeline *os.File) *exec.Cmd {
	cmd := exec.Command(cfg.Path, cfg.Args...)
	cmd.Dir = cfg.DataDir
	cmd.ExtraFiles = append(append([]*os.File(nil), data.PluginFiles()...), lifeline)
	cmd.Env = environ(os.Environ(), cfg)
	setProcAttrs(cmd)
	return cmd
}

// ownEnv are the variables launch and go-plugin set; inherited values
// are dropped so ours win.
var ownEnv = []string{
	plugin.EnvUnixSocketDir, sdk.EnvFDs, sdk.EnvLogLevel, sdk.EnvCommandConfig,
	sdk.Handshake.MagicCookieKey, "PLUGIN_MIN_PORT", "PLUGIN_MAX_PORT",
	"PLUGIN_PROTOCOL_VERSIONS", "PLUGIN_CLIENT_CERT", plugin.EnvUnixSocketGroup,
	"PLUGIN_MULTIPLEX_GRPC",
}

func environ(base []string, cfg Config) []string {
	env := make([]string, 0, len(base)+len(cfg.Env)+3)
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !contains(ownEnv, k) {
			env = append(env, kv)
		}
	}
	env = append(env,
		plugin.EnvUnixSocketDir+"="+cfg.SocketDir,
		sdk.EnvFDs+"="+sdk.FDLayoutVersion,
		sdk.EnvLogLevel+"="+cfg.LogLevel.String(),
	)
	return append(env, cfg.Env...)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// clientConfig is the go-plugin client configuration for cmd.
func clientConfig(cfg Config, cmd *exec.Cmd) *plugin.ClientConfig {
	cc := &plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.HostPluginSets(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		StartTimeout:     cfg.StartTimeout,
		Logger:           sdk.NewHCLogger(cfg.Logger.With("plugin", cfg.Name)),
		SkipHostEnv:      true, // environ already has the host's environment
	}
	if cfg.SHA256 != nil {
		cc.SecureConfig = &plugin.SecureConfig{Checksum: cfg.SHA256, Hash: sha256.New()}
	}
	return cc
}

// Command returns the command that runs a plugin subcommand: path with
// args, outside go-plugin, with cfg in sdk.EnvCommandConfig and the
// terminal's standard streams. The node's CLI runs it for `mycelium
// <plugin> <command> ...`.
func Command(ctx context.Context, path string, cfg sdk.Config, args ...string) (*exec.Cmd, error) {
	env, err := sdk.CommandEnviron(os.Environ(), cfg)
	if err != nil {
		return nil, fmt.Errorf("launch: command: %w", err)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if cfg.DataDir != "" {
		cmd.Dir = cfg.DataDir
	}
	return cmd, nil
}
