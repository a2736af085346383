package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/gateway"
)

// PluginCmd runs a plugin's own subcommand: `mycelium mail adduser ...`
// executes the mail plugin's binary with the same configuration the node
// gives it, on this terminal. Every argument after the plugin name goes
// to the plugin unparsed; the data directory comes from
// $MYCELIUM_DATA_DIR or the key file's directory.
type PluginCmd struct {
	Args []string `arg:"" optional:"" help:"The plugin's command and its arguments."`
}

// Run builds the plugin's command and runs it with the terminal's
// streams. The plugin's exit status becomes mycelium's.
func (c *PluginCmd) Run(g *Globals, k *kong.Context) error {
	name := k.Selected().Name
	cfg, err := gatewayConfig(g.configPath())
	if err != nil {
		return err
	}
	kp, err := identity.LoadKeyFile(g.keyFile())
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no key file at %s (run `mycelium generate-keys` or start the node once)", g.keyFile())
	}
	if err != nil {
		return err
	}
	cmd, err := gateway.PluginCommand(context.Background(), cfg, gateway.CommandOptions{
		DataDir: g.dataDir(""), Key: kp.Public(),
		Logger: g.cliLogger().With("component", "gateway"),
	}, name, c.Args...)
	if err != nil {
		return err
	}
	return runForeground(cmd)
}

// runForeground runs cmd, leaving SIGINT and SIGTERM to it (it shares the
// terminal's process group), and exits with its status if it failed.
func runForeground(cmd *exec.Cmd) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		// The plugin printed its own error; pass its status on.
		os.Exit(max(ee.ExitCode(), 1))
	}
	return err
}
