// Package relay copies an OpenAI-style HTTP exchange from one side to the
// other without changing it: header rules for requests and responses, and
// a response copier that forwards server-sent events frame by frame (one
// write and one flush per event, never coalesced, never buffered) or
// passes a JSON body through while it scans the usage object.
//
// Both roles of the openai adapter use it: the serve role between a mesh
// peer and the local model server, the client role between a local app
// and a remote serve role.
package relay
