package sdk

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// shutdownGrace is how long the SDK waits for Serve calls to return when
// the host stops the plugin.
const shutdownGrace = 10 * time.Second

// exitHostGone is the exit status when the lifeline reports the host dead.
const exitHostGone = 3

// Serve is the whole main of a plugin binary; it does not return.
//
// Started by the node (go-plugin's cookie is set), it serves p: it opens
// the inherited data plane (see docs/plugins.md), answers Describe,
// Configure and Health, and after a successful Configure runs p.Serve for
// every service. It exits when the host stops it, or when the host dies.
//
// Run by hand, it runs p's subcommand if p is a Commander (configuration
// from EnvCommandConfig, arguments from os.Args[1:]); otherwise it prints
// that the binary is a plugin and exits with status 1.
//
// Nothing may write to standard output before Serve: the first line the
// host reads there is go-plugin's handshake.
func Serve(p Plugin) {
	os.Exit(run(p))
}

func run(p Plugin) int {
	if startedByHost() {
		return servePlugin(p, NewLogger().With("component", "sdk"))
	}
	c, isCommander := p.(Commander)
	if _, set := os.LookupEnv(EnvCommandConfig); isCommander && set {
		return runCommand(c, os.Args[1:])
	}
	fmt.Fprintf(stderr, "%s is a mycelium plugin: the mycelium node starts it.\n", programName())
	if isCommander {
		fmt.Fprintf(stderr, "Its commands run through the node: mycelium <plugin> <command> ...\n")
	} else {
		fmt.Fprintf(stderr, "Configure it in the node's config file and run the node instead.\n")
	}
	return 1
}

func programName() string { return filepath.Base(os.Args[0]) }

// servePlugin serves p under go-plugin until the host stops it.
func servePlugin(p Plugin, log *slog.Logger) int {
	demux := NewDemux(DemuxConfig{Logger: log})
	rt := newRuntime(p, log, demux)
	if os.Getenv(EnvFDs) == FDLayoutVersion {
		ln, pc, lifeline, err := openInherited()
		if err != nil {
			log.Error("open inherited data plane", "error", err)
			return 1
		}
		go func() { _ = demux.ServeStream(ln) }()
		go func() {
			if err := demux.ServePackets(pc); err != nil {
				log.Error("fd-passing socket failed", "error", err)
			}
		}()
		go watchLifeline(lifeline, func() {
			log.Error("host is gone (lifeline closed): exiting")
			rt.shutdown(time.Second)
			os.Exit(exitHostGone)
		})
	} else {
		log.Warn("no inherited data plane: services will receive no connections", "env", EnvFDs)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: pluginSets(rt),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(grpcServerOptions(opts)...)
		},
		Logger: NewHCLogger(log.With("component", "go-plugin")),
	})
	if !rt.shutdown(shutdownGrace) {
		return 1
	}
	return 0
}

// watchLifeline calls gone once reading f ends: the host holds the only
// write end, so EOF (or any error) means it exited.
func watchLifeline(f io.ReadCloser, gone func()) {
	defer f.Close()
	var b [64]byte
	for {
		if _, err := f.Read(b[:]); err != nil {
			gone()
			return
		}
	}
}
