// Command whoami is the example mycelium plugin. It offers one service,
// "whoami" (a line protocol on overlay port 7 and loopback port 17007),
// that answers every connection with one line naming the caller as the
// node sees it, then closes:
//
//	key=<64 hex digits or "none"> addr=<address:port> origin=<overlay|loopback>
//
// It also has one subcommand, `whoami show-config`, run by the node as
// `mycelium whoami show-config`. docs/plugins.md walks through this file.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

func main() {
	sdk.Serve(&whoami{log: sdk.NewLogger()})
}

// settings is the plugin's section of the node's config file.
type settings struct {
	// Prefix is written before each answer, e.g. "hello ".
	Prefix string `json:"prefix"`
}

type whoami struct {
	log *slog.Logger
	cfg sdk.Config
	set settings
}

func (w *whoami) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:    "whoami",
		Version: "1.0.0",
		Services: []sdk.ServiceSpec{{
			Name: "whoami", Protocol: "line", Port: 7, LoopbackPort: 17007, TLS: sdk.TLSNone,
		}},
	}, nil
}

// Configure validates the settings strictly: an unknown key is an error,
// which the node reports when it starts.
func (w *whoami) Configure(_ context.Context, cfg sdk.Config, _ sdk.Host) error {
	set, err := parseSettings(cfg.Settings)
	if err != nil {
		return err
	}
	w.cfg, w.set = cfg, set
	w.log.Info("configured", "data_dir", cfg.DataDir, "node", cfg.Node.Address.String())
	return nil
}

func parseSettings(raw json.RawMessage) (settings, error) {
	var s settings
	if len(bytes.TrimSpace(raw)) == 0 {
		return s, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("whoami settings: %w", err)
	}
	if len(s.Prefix) > 64 {
		return s, errors.New("whoami settings: prefix longer than 64 bytes")
	}
	return s, nil
}

// Serve answers each connection until ctx ends, then waits for the
// connections it is still answering.
func (w *whoami) Serve(ctx context.Context, service string, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("whoami: accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.answer(c)
		}()
	}
}

func (w *whoami) answer(c net.Conn) {
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	p, ok := sdk.PeerOf(c)
	if !ok {
		w.log.Error("connection without identity")
		return
	}
	if _, err := fmt.Fprintf(c, "%s%s\n", w.set.Prefix, describePeer(p)); err != nil {
		w.log.Debug("answer failed", "peer", p.Addr.String(), "error", err)
	}
}

func describePeer(p sdk.Peer) string {
	key := "none"
	if p.FromOverlay() {
		key = p.Key.String()
	}
	return fmt.Sprintf("key=%s addr=%s origin=%s", key, p.Addr, p.Origin)
}

// RunCommand implements sdk.Commander.
func (w *whoami) RunCommand(_ context.Context, env sdk.CommandEnv, args []string) error {
	if len(args) != 1 || args[0] != "show-config" {
		return errors.New("usage: whoami show-config")
	}
	set, err := parseSettings(env.Settings)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.Stdout, "data_dir=%s node=%s prefix=%q\n", env.DataDir, env.Node.Address, set.Prefix)
	return err
}

var (
	_ sdk.Plugin    = (*whoami)(nil)
	_ sdk.Commander = (*whoami)(nil)
)
