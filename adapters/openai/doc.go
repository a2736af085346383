// Package openai is the mycelium openai plugin: an OpenAI-style HTTP API
// on the mesh, in two roles.
//
// The serve role (service "openai", overlay port 8080, no loopback
// listener by default) offers a local model server (Ollama, llama.cpp
// server, vLLM, ...) to the mesh peers the gateway's policy admits, with
// per-peer rate limits and usage metrics. The client role (service
// "openai-local", loopback port 11435, no overlay listener) gives local
// applications one endpoint, http://127.0.0.1:11435/v1, with a local API
// key, that reaches the models of remote serve-role nodes. Either role, or
// both, is enabled by its settings section; see docs/ai.md.
//
// GET /metrics on either listener, from loopback callers only, exports
// Prometheus metrics of both roles.
//
// The work is done by the subpackages: serve and client (the roles),
// relay (faithful forwarding and event streams) and wire (the parts of the
// OpenAI API that are parsed).
package openai
