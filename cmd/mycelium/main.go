// Command mycelium runs a Mycelium overlay node with its protocol gateway,
// and is the command-line client of a running node.
//
// With no subcommand it runs the node (flags and config keys shaped like
// the reference node's). Subcommands inspect keys, and talk to a running
// node through its REST API.
package main

import (
	"fmt"
	"os"

	"github.com/alecthomas/kong"

	coretun "github.com/mycelium-go/mycelium/core/tun"
)

var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

// run parses args and runs the selected command. It returns the exit code.
func run(args []string) int {
	var cli CLI
	parser, err := newParser(&cli)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mycelium:", err)
		return 2
	}
	ctx, err := parser.Parse(expandPeerArgs(args))
	if err != nil {
		parser.Errorf("%s", err)
		return 2
	}
	if err := ctx.Run(&cli.Globals); err != nil {
		fmt.Fprintln(os.Stderr, "mycelium:", err)
		return 1
	}
	return 0
}

// newParser builds the command-line parser for cli.
func newParser(cli *CLI) (*kong.Kong, error) {
	return kong.New(cli,
		kong.Name("mycelium"),
		kong.Description("A Mycelium overlay network node and protocol gateway."),
		kong.UsageOnError(),
		kong.Vars{"version": version, "tun_name": coretun.DefaultName},
	)
}
