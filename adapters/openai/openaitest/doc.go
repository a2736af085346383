// Package openaitest holds hand-written fakes for testing the openai
// adapter: an upstream model server that behaves like Ollama or vLLM's
// OpenAI-compatible API (models, chat and legacy completions with and
// without streaming, embeddings as floats or base64, errors, per-frame
// delays, dying mid-stream), an in-memory mesh of sdk.Host fakes whose
// Dial reaches another node's listener with a connection carrying the
// dialer's identity, and listeners that stamp identities on loopback TCP
// connections.
package openaitest
