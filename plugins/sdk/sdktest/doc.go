// Package sdktest runs a plugin in-process for adapter tests: no binary,
// no go-plugin, but the real data plane, so every connection goes through
// the real preamble encoder, data socket and demultiplexer.
//
// A test starts the plugin, then opens connections as any peer:
//
//	h := sdktest.Start(t, myPlugin, sdktest.Options{
//		Settings: map[string]any{"quota": 10},
//		TLS:      sdktest.TLS(t),
//	})
//	c, err := h.Dial(ctx, "imaps", sdktest.Peer(1)) // overlay peer with key 0x01...
//	tc := tls.Client(c, h.TLSClientConfig())
//
// Start calls Describe, validates the description, calls Configure with a
// temporary data directory, the settings as JSON, a test node, bindings
// derived from the description and a fake Host, then runs Serve for every
// service. When the test ends it cancels Serve's context and fails the
// test if a Serve does not return, or returns an error.
//
// The fake Host (NewHost) answers LookupKey, AddressOf and RouteMetric
// from tables filled with AddNode, keeps sent messages (Sent), delivers
// injected ones (Deliver) to ReceiveMessage, dials addresses registered
// with Listen, and lists the node services set with SetNodeServices.
//
// Helpers: Key, Peer, LoopbackPeer and Node build identities;
// IdentityListener stamps the connections of a plain listener with a peer
// identity, for running Serve without the harness; TLS makes a
// throwaway CA and leaf certificate; RequireBinary skips a test when a
// program is missing.
package sdktest
