// Package gateway hosts the node's protocol plugins and connects them to
// the overlay.
//
// A Gateway supervises one process per configured plugin (launched with
// plugins/sdk/launch under hashicorp/go-plugin): Describe, validation,
// Configure with settings, data directory, node identity, TLS material
// from the node's local CA (gateway/ca), service bindings, host callbacks
// and the SOCKS5 dial-out socket; health checks; restart with exponential
// backoff when a plugin dies. Service listeners belong to the gateway, not
// to a plugin process, so they keep accepting while a plugin restarts: a
// connection that arrives then waits up to Settings.RestartWait for the
// new process and is closed if none comes.
//
// For every service the gateway listens on the node's overlay address
// (through Overlay) and, optionally, on loopback. An overlay connection
// is admitted only if the access policy (gateway/acl) allows the public
// key that owns its source address (Identity); the userspace stack resets
// a refused peer at SYN time, kernel sockets close it before reading a
// byte. Admitted connections go to the plugin with the peer's identity
// (sdk.Handoff.Deliver: descriptor passing for kernel sockets, a splice
// over the plugin's data socket otherwise). Loopback connections carry no
// key; the plugin authenticates them at protocol level.
//
// The gateway also runs port forwards (a local port to a service on
// another node, which sees this node's key) and serves its status and a
// reload endpoint for the node's REST API (Handler).
//
// The gateway depends on the node only through the small interfaces
// Overlay, Identity and Bus, and on a SOCKS5 server through DialOutServer.
package gateway
