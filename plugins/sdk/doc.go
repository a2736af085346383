// Package sdk is the contract between the mycelium gateway and its
// out-of-process plugins.
//
// A plugin implements Plugin and calls Serve from its main. The gateway
// launches the plugin under hashicorp/go-plugin, describes and configures it
// over gRPC, and hands it user connections over a data socket. Every
// connection a plugin accepts is a *Conn that carries the peer's identity:
// its public key, its overlay address, and whether it came from the overlay
// or from loopback. Stock servers (go-smtp, go-imap, net/http with
// ConnContext) run on the listener unchanged.
//
// The package holds both sides of the contract:
//
//   - plugin side: Serve, NewLogger, the Demux that turns handed-off
//     connections back into per-service listeners, and the Host
//     implementation (gRPC callbacks through go-plugin's broker, Dial
//     through the node's SOCKS5 socket);
//   - host side: HostPluginSets and Dispense (the PluginClient), the
//     HostServer interface the gateway implements, NewDataPlane and Handoff
//     (fd passing and splicing), CommandEnviron;
//   - shared: Handshake and protocol versions, the PROXY v2 preamble
//     (EncodePreamble, DecodePreamble, ReadPreamble), the inherited
//     descriptor numbers.
//
// Subpackages: launch starts plugin processes, sdktest runs a plugin
// in-process for tests, passwd hashes, verifies and reads local-account
// passwords, proto holds the protobuf definitions. The plugin
// author's guide is docs/plugins.md.
//
// This package imports nothing else from this module.
package sdk
