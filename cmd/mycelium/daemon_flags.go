package main

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/router"
)

// RunCmd runs the node. Its flags are the reference's, plus ours. A flag
// given on the command line wins over the config file; booleans are on if
// either turns them on; lists come from the command line if given there.
type RunCmd struct {
	Peers                  []string `name:"peers" sep:"none" help:"Peers to connect to, e.g. tcp://192.0.2.1:9651 or quic://[2001:db8::1]:9651 (repeatable; several may follow one --peers)."`
	TCPListenPort          uint16   `short:"t" name:"tcp-listen-port" default:"9651" help:"TCP port to accept peers on (0: none)."`
	DisableQUIC            bool     `name:"disable-quic" help:"Neither accept nor dial QUIC peers."`
	QUICListenPort         uint16   `short:"q" name:"quic-listen-port" default:"9651" help:"UDP port for QUIC peers."`
	PeerDiscoveryPort      uint16   `name:"peer-discovery-port" default:"9650" help:"UDP port of link-local peer discovery."`
	DisablePeerDiscovery   bool     `name:"disable-peer-discovery" help:"Do not discover peers on the local link."`
	PeerDiscoveryInterface []string `name:"peer-discovery-interface" help:"Only discover peers on these interfaces (repeatable)."`
	APIAddr                string   `name:"api-addr" default:"127.0.0.1:8989" help:"Address of the REST API."`
	JSONRPCAddr            string   `name:"jsonrpc-addr" default:"127.0.0.1:8990" help:"Address of the JSON-RPC API."`
	NoTun                  bool     `name:"no-tun" help:"No IP device: route and use the message bus only."`
	TunName                string   `name:"tun-name" default:"${tun_name}" help:"Name of the TUN device."`
	Device                 string   `name:"device" enum:"tun,netstack,none," default:"" help:"Data-plane device: tun (kernel, needs root), netstack (userspace, no root) or none (default tun)."`
	MetricsAPIAddress      string   `name:"metrics-api-address" help:"Serve Prometheus metrics at http://ADDR/metrics."`
	FirewallMark           uint32   `name:"firewall-mark" help:"SO_MARK for underlay sockets (Linux)."`
	UpdateWorkers          int      `name:"update-workers" default:"1" help:"Accepted for compatibility; one goroutine owns the routing state."`
	TopicConfig            string   `name:"topic-config" type:"path" help:"Message-bus topic configuration (TOML)."`
	DataDir                string   `name:"data-dir" type:"path" help:"Directory for the node's state (CA, plugin data). Default: next to the key file."`
	SOCKS5Listen           string   `name:"socks5-listen" help:"Serve SOCKS5 to the mesh on a loopback address (127.0.0.1:1080) or a unix socket (unix:/path)."`
	CDNCache               string   `name:"cdn-cache" hidden:"" help:"Not supported."`
	EnableDNS              bool     `name:"enable-dns" hidden:"" help:"Not supported."`
	VsockListenPort        uint32   `name:"vsock-listen-port" hidden:"" help:"Not supported."`
}

// settings is the merged configuration of a node run.
type settings struct {
	keyFile        string
	dataDir        string
	device         string // "tun", "netstack" or "none"
	batchSched     bool   // node.Config.BatchScheduling
	tunName        string
	link           link.Config
	router         router.Config
	apiAddr        string
	jsonrpcAddr    string
	apiToken       string
	metricsAddr    string
	topicConfig    string
	socks5Listen   string
	configRaw      []byte // the config file, for the gateway's tables
	configFilePath string
}

// mergeSettings combines flags (those set explicitly, per kctx) and the
// config file into settings.
func (c *RunCmd) mergeSettings(g *Globals, kctx *kong.Context, file *fileConfig) (*settings, error) {
	// Only flags written on the command line override the file. kong's
	// Flag.Set is no use here: it is true for every flag with a default
	// too, which made the file's device, ports and addresses dead keys.
	// The parse path holds exactly the flags that were parsed.
	set := map[string]bool{}
	if kctx != nil {
		for _, p := range kctx.Path {
			if p.Flag != nil {
				set[p.Flag.Name] = true
			}
		}
	}
	str := func(flag, flagVal, fileVal string) string {
		if set[flag] || fileVal == "" {
			return flagVal
		}
		return fileVal
	}
	u16 := func(flag string, flagVal uint16, fileVal *uint16) uint16 {
		if set[flag] || fileVal == nil {
			return flagVal
		}
		return *fileVal
	}
	for _, unsupported := range []struct {
		on   bool
		what string
	}{
		{c.CDNCache != "" || file.CDNCache != "", "the CDN (--cdn-cache)"},
		{c.EnableDNS || file.EnableDNS, "the DNS forwarder (--enable-dns)"},
		{c.VsockListenPort != 0 || file.VsockListenPort != nil, "vsock peers (--vsock-listen-port)"},
	} {
		if unsupported.on {
			return nil, fmt.Errorf("%s is not supported by this node", unsupported.what)
		}
	}

	s := &settings{
		keyFile:        g.KeyFile,
		apiAddr:        str("api-addr", c.APIAddr, file.APIAddr),
		jsonrpcAddr:    str("jsonrpc-addr", c.JSONRPCAddr, file.JSONRPCAddr),
		metricsAddr:    str("metrics-api-address", c.MetricsAPIAddress, file.MetricsAPIAddress),
		topicConfig:    str("topic-config", c.TopicConfig, file.TopicConfig),
		socks5Listen:   str("socks5-listen", c.SOCKS5Listen, file.SOCKS5Listen),
		tunName:        str("tun-name", c.TunName, file.TunName),
		apiToken:       file.APIToken,
		configFilePath: g.ConfigFile,
	}
	if s.keyFile == "" {
		s.keyFile = file.KeyFile
	}
	if s.keyFile == "" {
		s.keyFile = defaultKeyFile()
	}
	s.dataDir = str("data-dir", c.DataDir, file.DataDir)
	if s.dataDir == "" {
		s.dataDir = filepath.Dir(s.keyFile)
	}

	s.batchSched = file.BatchScheduling == nil || *file.BatchScheduling
	s.device = str("device", c.Device, file.Device)
	if c.NoTun || file.NoTun {
		if s.device != "" && s.device != "none" {
			return nil, fmt.Errorf("--no-tun conflicts with device %q", s.device)
		}
		s.device = "none"
	}
	switch s.device {
	case "":
		s.device = "tun"
	case "tun", "netstack", "none":
	default:
		return nil, fmt.Errorf("device %q: want tun, netstack or none", s.device)
	}

	// Links.
	lc := link.Default()
	peers := c.Peers
	if len(peers) == 0 {
		fp, err := file.peers()
		if err != nil {
			return nil, err
		}
		peers = fp
	}
	for _, p := range peers {
		ep, err := link.ParseEndpoint(p)
		if err != nil {
			return nil, fmt.Errorf("peer %q: %w", p, err)
		}
		lc.Peers = append(lc.Peers, ep)
	}
	if port := u16("tcp-listen-port", c.TCPListenPort, file.TCPListenPort); port != 0 {
		lc.TCPListen = netip.AddrPortFrom(netip.IPv6Unspecified(), port)
	} else {
		lc.TCPListen = netip.AddrPort{}
	}
	lc.DisableQUIC = c.DisableQUIC || file.DisableQUIC
	lc.QUICListen = netip.AddrPortFrom(netip.IPv6Unspecified(), u16("quic-listen-port", c.QUICListenPort, file.QUICListenPort))
	lc.DisableDiscovery = c.DisablePeerDiscovery || file.DisablePeerDiscovery
	lc.DiscoveryPort = u16("peer-discovery-port", c.PeerDiscoveryPort, file.PeerDiscoveryPort)
	lc.DiscoveryInterfaces = c.PeerDiscoveryInterface
	if len(lc.DiscoveryInterfaces) == 0 {
		lc.DiscoveryInterfaces = file.PeerDiscoveryInterfaces
	}
	lc.FirewallMark = c.FirewallMark
	if !set["firewall-mark"] && file.FirewallMark != nil {
		lc.FirewallMark = *file.FirewallMark
	}
	s.link = lc

	// Routing timers.
	rc := router.Default()
	for _, t := range []struct {
		dst *time.Duration
		v   duration
	}{
		{&rc.HelloInterval, file.Router.HelloInterval},
		{&rc.DeadInterval, file.Router.DeadInterval},
		{&rc.UpdateInterval, file.Router.UpdateInterval},
		{&rc.QueryTimeout, file.Router.QueryTimeout},
	} {
		if t.v != 0 {
			*t.dst = time.Duration(t.v)
		}
	}
	if err := rc.Validate(); err != nil {
		return nil, fmt.Errorf("[router]: %w", err)
	}
	s.router = rc
	return s, nil
}

// expandPeerArgs rewrites the reference's `--peers a b c` (several values
// after one flag) into `--peers a --peers b --peers c` for the parser.
func expandPeerArgs(args []string) []string {
	out := make([]string, 0, len(args))
	inPeers := false
	for _, a := range args {
		switch {
		case a == "--peers":
			inPeers = true
			out = append(out, a)
			continue
		case inPeers && !strings.HasPrefix(a, "-") && strings.Contains(a, "://"):
			if len(out) > 0 && out[len(out)-1] != "--peers" {
				out = append(out, "--peers")
			}
		default:
			inPeers = false
		}
		out = append(out, a)
	}
	return out
}
