package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"

	"github.com/mycelium-go/mycelium/core/api"
)

// stdout is where client commands print; tests replace it.
var stdout io.Writer = os.Stdout

// APIFlags select the node's REST API, for the commands that talk to a
// running node.
type APIFlags struct {
	APIAddr  string `name:"api-addr" env:"MYCELIUM_API_ADDR" default:"127.0.0.1:8989" help:"Address of the node's REST API."`
	APIToken string `name:"api-token" env:"MYCELIUM_API_TOKEN" help:"Bearer token of the node's API, when it requires one."`
}

func (f *APIFlags) client() *api.Client { return api.NewClient(f.APIAddr, f.APIToken) }

// cmdContext is cancelled by Ctrl-C, so a waiting command ends cleanly.
func cmdContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

func printJSON(v any) error {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints rows aligned in columns.
func table(rows [][]string) error {
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	return w.Flush()
}

// PeersCmd manages the peers of a running node.
type PeersCmd struct {
	List   PeersListCmd   `cmd:"" help:"List the node's peers."`
	Add    PeersAddCmd    `cmd:"" help:"Add peers, e.g. tcp://192.0.2.1:9651 or quic://[2001:db8::1]:9651."`
	Remove PeersRemoveCmd `cmd:"" help:"Remove peers."`
}

// PeersListCmd lists peers.
type PeersListCmd struct {
	APIFlags
	JSON bool `help:"Print JSON."`
}

func (c *PeersListCmd) Run() error {
	ctx, cancel := cmdContext()
	defer cancel()
	peers, err := c.client().Peers(ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(peers)
	}
	rows := [][]string{{"Protocol", "Socket", "Type", "Connection", "Rx total", "Tx total", "Discovered", "Last connection"}}
	for _, p := range peers {
		last := "Never connected"
		if p.LastConnected != nil {
			last = formatSeconds(*p.LastConnected)
		}
		addr := p.Endpoint.Addr.Socket
		if p.Endpoint.Addr.Vsock != nil {
			addr = fmt.Sprintf("%d:%d", p.Endpoint.Addr.Vsock.CID, p.Endpoint.Addr.Vsock.Port)
		}
		rows = append(rows, []string{p.Endpoint.Proto, addr, p.Type, p.ConnectionState,
			formatBytes(p.RxBytes), formatBytes(p.TxBytes), formatSeconds(p.Discovered), last})
	}
	return table(rows)
}

// formatBytes prints a byte count with a binary unit, as the reference.
func formatBytes(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.2f %s", v, units[i])
}

// formatSeconds prints a duration as "1d 2h 3m 4s", as the reference.
func formatSeconds(s uint64) string {
	d, h, m, sec := s/86400, s/3600%24, s/60%60, s%60
	switch {
	case d > 0:
		return fmt.Sprintf("%dd %dh %dm %ds", d, h, m, sec)
	case h > 0:
		return fmt.Sprintf("%dh %dm %ds", h, m, sec)
	case m > 0:
		return fmt.Sprintf("%dm %ds", m, sec)
	default:
		return fmt.Sprintf("%ds", sec)
	}
}

// PeersAddCmd adds peers.
type PeersAddCmd struct {
	APIFlags
	Peers []string `arg:"" name:"endpoint" help:"Peer endpoints."`
}

func (c *PeersAddCmd) Run() error {
	ctx, cancel := cmdContext()
	defer cancel()
	cl := c.client()
	for _, p := range c.Peers {
		if err := cl.AddPeer(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// PeersRemoveCmd removes peers.
type PeersRemoveCmd struct {
	APIFlags
	Peers []string `arg:"" name:"endpoint" help:"Peer endpoints."`
}

func (c *PeersRemoveCmd) Run() error {
	ctx, cancel := cmdContext()
	defer cancel()
	cl := c.client()
	for _, p := range c.Peers {
		if err := cl.RemovePeer(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// RoutesCmd shows the routing table of a running node.
type RoutesCmd struct {
	Selected RoutesSelectedCmd `cmd:"" help:"List the selected routes."`
	Fallback RoutesFallbackCmd `cmd:"" help:"List the fallback routes."`
	Queried  RoutesQueryCmd    `cmd:"" help:"List the subnets being queried."`
}

// routeFlags are the flags of the route listings.
type routeFlags struct {
	APIFlags
	JSON bool `help:"Print JSON."`
}

func (c *routeFlags) show(list func(*api.Client) func(context.Context) ([]api.Route, error)) error {
	ctx, cancel := cmdContext()
	defer cancel()
	routes, err := list(c.client())(ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(routes)
	}
	rows := [][]string{{"Subnet", "Next hop", "Metric", "Seq no"}}
	for _, r := range routes {
		rows = append(rows, []string{r.Subnet, r.NextHop, r.Metric.String(), fmt.Sprint(r.Seqno)})
	}
	return table(rows)
}

// RoutesSelectedCmd lists the selected routes.
type RoutesSelectedCmd struct{ routeFlags }

func (c *RoutesSelectedCmd) Run() error {
	return c.show(func(cl *api.Client) func(context.Context) ([]api.Route, error) { return cl.SelectedRoutes })
}

// RoutesFallbackCmd lists the fallback routes.
type RoutesFallbackCmd struct{ routeFlags }

func (c *RoutesFallbackCmd) Run() error {
	return c.show(func(cl *api.Client) func(context.Context) ([]api.Route, error) { return cl.FallbackRoutes })
}

// RoutesQueryCmd lists the subnets being queried.
type RoutesQueryCmd struct {
	APIFlags
	JSON bool `help:"Print JSON."`
}

func (c *RoutesQueryCmd) Run() error {
	ctx, cancel := cmdContext()
	defer cancel()
	subnets, err := c.client().QueriedSubnets(ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(subnets)
	}
	rows := [][]string{{"Subnet", "Query expiration"}}
	for _, s := range subnets {
		rows = append(rows, []string{s.Subnet, s.Expiration + "s"})
	}
	return table(rows)
}

// StatsCmd shows traffic statistics of a running node.
type StatsCmd struct {
	Packets StatsPacketsCmd `cmd:"" help:"Packets and bytes routed per source and destination address."`
}

// StatsPacketsCmd prints packet statistics.
type StatsPacketsCmd struct {
	APIFlags
	JSON bool `help:"Print JSON."`
}

func (c *StatsPacketsCmd) Run() error {
	ctx, cancel := cmdContext()
	defer cancel()
	st, err := c.client().PacketStatistics(ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(st)
	}
	for i, part := range []struct {
		title, col string
		entries    []api.PacketStatEntry
	}{{"Statistics by Source IP:", "Source IP", st.BySource}, {"Statistics by Destination IP:", "Destination IP", st.ByDestination}} {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintln(stdout, part.title)
		rows := [][]string{{part.col, "Packets", "Bytes"}}
		for _, e := range part.entries {
			rows = append(rows, []string{e.IP, fmt.Sprint(e.PacketCount), fmt.Sprint(e.ByteCount)})
		}
		if err := table(rows); err != nil {
			return err
		}
	}
	return nil
}
