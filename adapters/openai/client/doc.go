// Package client is the client role of the openai adapter: one local,
// OpenAI-compatible endpoint (http://127.0.0.1:11435/v1 by default) that
// reaches the models of remote serve-role nodes over the mesh.
//
// The Handler knows a set of AI nodes by public key, from its
// configuration and, optionally, from announcements on the message bus.
// A background checker lists each node's models and marks nodes up or
// down; GET /v1/models answers the merged list. A request is routed to a
// node that has its model, preferring the lowest route metric, over a
// connection dialled through the node (sdk.Host.Dial). If a node cannot
// be reached, or answers 429/502/503/504, before anything was sent to the
// local client, the next node is tried; once bytes went to the client,
// nothing is retried. Bodies pass through byte for byte and streams event
// by event; a local client that goes away cancels the remote request.
package client
