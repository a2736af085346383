// Package serve is the serve role of the openai adapter: an http.Handler
// that offers a local OpenAI-compatible model server (Ollama, llama.cpp
// server, vLLM, ...) to mesh peers.
//
// Only connections that the gateway handed over from the overlay (origin
// overlay, with a proven public key, already allowed by the service's
// policy) are served, plus loopback callers if Config.AllowLoopback is set.
// Bodies pass through byte for byte; the handler only peeks at the model,
// the stream flags and the usage object. Streams are relayed event by
// event. Each peer key has a requests-per-minute and a tokens-per-minute
// budget, charged from the usage the upstream reports. Usage per peer and
// model is counted in Prometheus metrics.
package serve
