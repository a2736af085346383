package main

import (
	"github.com/alecthomas/kong"
)

// Globals are the options every command shares, as in the reference.
type Globals struct {
	KeyFile    string           `short:"k" name:"key-file" help:"Path to the private key file (32 raw bytes; created if missing)." type:"path"`
	ConfigFile string           `short:"c" name:"config-file" help:"Path to a TOML config file (reference keys accepted)." type:"path"`
	Debug      bool             `short:"d" help:"Log debug messages."`
	Silent     bool             `help:"Log errors only."`
	LogFormat  string           `name:"log-format" enum:"compact,logfmt,plain,json" default:"compact" help:"Log format: compact, logfmt, plain or json."`
	Version    kong.VersionFlag `help:"Print the version and exit."`
}

// CLI is the whole command line.
type CLI struct {
	Globals

	Run          RunCmd          `cmd:"" default:"withargs" help:"Run the node (the default command; flags as in the reference node)."`
	Inspect      InspectCmd      `cmd:"" help:"Print a public key and its overlay address (own key if none given)."`
	GenerateKeys GenerateKeysCmd `cmd:"" name:"generate-keys" help:"Generate a new key file."`

	Peers   PeersCmd   `cmd:"" help:"List, add or remove the peers of a running node."`
	Routes  RoutesCmd  `cmd:"" help:"Show the routes of a running node."`
	Message MessageCmd `cmd:"" help:"Send and receive messages through a running node."`
	Stats   StatsCmd   `cmd:"" help:"Show traffic statistics of a running node."`

	Gateway GatewayCmd `cmd:"" help:"Inspect or reload the gateway of a running node."`
	CA      CACmd      `cmd:"" name:"ca" help:"The node's local certificate authority."`
	Mail    PluginCmd  `cmd:"" passthrough:"" help:"Run a command of the mail plugin (mycelium mail help)."`
	Webdav  PluginCmd  `cmd:"" passthrough:"" help:"Run a command of the webdav plugin."`
	Dav     PluginCmd  `cmd:"" passthrough:"" help:"Run a command of the dav (CalDAV/CardDAV) plugin."`
	Openai  PluginCmd  `cmd:"" passthrough:"" help:"Run a command of the openai plugin."`
	Whoami  PluginCmd  `cmd:"" passthrough:"" help:"Run a command of the whoami example plugin."`
}
