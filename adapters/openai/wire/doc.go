// Package wire holds the small parts of the OpenAI HTTP API that the
// mycelium openai adapter parses itself: the error body shape, a peek at a
// request's model and stream flags, a byte-exact server-sent-events frame
// scanner, usage extraction from responses and streamed chunks, the
// faithful injection of stream_options.include_usage, and the message-bus
// announcement that serve-role nodes send to client-role nodes.
//
// Nothing here decodes a request or response into typed structs that would
// drop fields: the adapter forwards bodies byte for byte and only peeks.
// Every decoder is fuzzed.
package wire
