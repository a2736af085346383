package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// EnvCommandConfig names the environment variable through which the node
// gives a plugin subcommand its Config, as JSON (see CommandEnviron). It
// holds the TLS private key, so only the node's user can read it
// (/proc/<pid>/environ is private to the process's user).
const EnvCommandConfig = "MYCELIUM_PLUGIN_ENV"

// CommandEnviron returns the environment for a plugin subcommand: base
// (usually os.Environ()) without go-plugin's cookie or an earlier
// EnvCommandConfig, plus EnvCommandConfig holding cfg as JSON. The node
// runs `<plugin binary> <args>` with it.
func CommandEnviron(base []string, cfg Config) ([]string, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("sdk: encode command config: %w", err)
	}
	env := make([]string, 0, len(base)+1)
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if k == Handshake.MagicCookieKey || k == EnvCommandConfig {
			continue
		}
		env = append(env, kv)
	}
	return append(env, EnvCommandConfig+"="+string(b)), nil
}

// commandConfig decodes the Config of a subcommand from the environment.
func commandConfig() (Config, error) {
	s, ok := os.LookupEnv(EnvCommandConfig)
	if !ok {
		return Config{}, fmt.Errorf("%s is not set: run plugin commands through the node (mycelium <plugin> <command>)", EnvCommandConfig)
	}
	var cfg Config
	if err := json.Unmarshal([]byte(s), &cfg); err != nil {
		return Config{}, fmt.Errorf("decode %s: %w", EnvCommandConfig, err)
	}
	return cfg, nil
}

// runCommand runs a subcommand with the configuration from the
// environment; SIGINT and SIGTERM cancel its context.
func runCommand(c Commander, args []string) int {
	cfg, err := commandConfig()
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err = c.RunCommand(ctx, CommandEnv{Config: cfg, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: stderr}, args)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", programName(), err)
		if errors.Is(err, context.Canceled) {
			return 130
		}
		return 1
	}
	return 0
}
