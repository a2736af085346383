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
// This package imports nothing else from this module.
package sdk
