package sdk

import (
	"errors"
	"fmt"

	"github.com/hashicorp/go-plugin"
)

// ProtocolVersion is the newest plugin protocol version this SDK speaks.
// Host and plugin each list the versions they support, and go-plugin picks
// the highest one both have. To add version 2: write its proto package
// and its client/server pair, add an entry to protocols, and leave version
// 1 in place for older plugins.
const ProtocolVersion = 1

// pluginSetName is the one plugin every protocol version's set holds.
const pluginSetName = "plugin"

// MaxMessageSize bounds one gRPC message in either direction (settings,
// TLS material, message-bus payloads). It replaces gRPC's 4 MiB default on
// both servers.
const MaxMessageSize = 64 << 20

// Handshake is the go-plugin handshake of every mycelium plugin. The
// cookie only tells a binary that a mycelium node started it; it is not a
// security measure. ProtocolVersion here is informational: negotiation
// uses the versioned plugin sets.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "MYCELIUM_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "6d7963656c69756d-plugin-8c1f2a",
}

// protocol is one protocol version: how each side builds its go-plugin
// plugin for it.
type protocol struct {
	// plugin builds the plugin-side set member around the runtime.
	plugin func(rt *pluginRuntime) plugin.Plugin
	// host builds the host-side set member.
	host func() plugin.Plugin
}

// protocols lists every supported version.
var protocols = map[int]protocol{
	1: {
		plugin: func(rt *pluginRuntime) plugin.Plugin { return &grpcPluginV1{rt: rt} },
		host:   func() plugin.Plugin { return &grpcPluginV1{} },
	},
}

// HostPluginSets returns the versioned plugin sets for the host's
// plugin.ClientConfig.VersionedPlugins.
func HostPluginSets() map[int]plugin.PluginSet {
	sets := make(map[int]plugin.PluginSet, len(protocols))
	for v, p := range protocols {
		sets[v] = plugin.PluginSet{pluginSetName: p.host()}
	}
	return sets
}

// pluginSets returns the plugin side's versioned sets around rt.
func pluginSets(rt *pluginRuntime) map[int]plugin.PluginSet {
	sets := make(map[int]plugin.PluginSet, len(protocols))
	for v, p := range protocols {
		sets[v] = plugin.PluginSet{pluginSetName: p.plugin(rt)}
	}
	return sets
}

// Dispense returns the PluginClient of a started go-plugin client (the
// result of plugin.Client.Client()), whatever protocol version was
// negotiated.
func Dispense(c plugin.ClientProtocol) (PluginClient, error) {
	raw, err := c.Dispense(pluginSetName)
	if err != nil {
		return nil, fmt.Errorf("sdk: dispense plugin: %w", err)
	}
	pc, ok := raw.(PluginClient)
	if !ok {
		return nil, errors.New("sdk: dispense plugin: not a PluginClient")
	}
	return pc, nil
}
