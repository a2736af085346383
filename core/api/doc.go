// Package api serves the node's local management interfaces, shaped like
// the reference node's (spec §8.1, §8.2): a REST API under /api/v1 on
// 127.0.0.1:8989 and JSON-RPC 2.0 on 127.0.0.1:8990 (HTTP POST or
// WebSocket, any path), plus the Client the command line uses.
//
// The package sees the node through small interfaces it defines (Node,
// MessageBus, Proxy); the daemon adapts the real router, peer manager and
// message bus to them. Where the reference's code and its API documents
// differ, the code's behaviour is followed (spec §12): GET /pubkey answers
// {"publicKey"}, POST /messages/topics takes a JSON array of byte values,
// adding a topic source answers 201, the forward socket body is
// {"socketPath"}, the message topic filter is an exact match, and peers
// are listed in the reference's current PeerStats shape.
//
// Unlike the reference, a listener on a non-loopback address requires a
// bearer token (Config.Token), checked in constant time on every REST and
// JSON-RPC request. Malformed JSON gets a 400 with a sentence saying what
// is wrong, and bodies are bounded.
//
// Other components add REST routes under /api/v1/gateway/ with
// Server.Handle, without this package importing them.
package api
