package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Request is what the adapter needs to know about an API request body. The
// body itself is forwarded unchanged.
type Request struct {
	Model string // the "model" member; empty if absent
	// Stream is the "stream" member (false if absent or null).
	Stream bool
	// StreamOptions reports whether a non-null "stream_options" member is present.
	StreamOptions bool
	// IncludeUsage is stream_options.include_usage.
	IncludeUsage bool
}

// ErrNotObject is returned by PeekRequest for a body that is valid JSON
// but not an object.
var ErrNotObject = errors.New("request body must be a JSON object")

// PeekRequest validates that body is one JSON object and reads the members
// the adapter routes and accounts by. Member names match exactly (unlike
// encoding/json's struct decoding, which ignores case), so the adapter
// sees the same "model" the upstream will.
func PeekRequest(body []byte) (Request, error) {
	var req Request
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field == "" {
			return req, ErrNotObject
		}
		return req, fmt.Errorf("parse request body: %w", err)
	}
	if members == nil {
		return req, ErrNotObject // the body was "null"
	}
	if err := decodeMember(members, "model", &req.Model); err != nil {
		return req, err
	}
	if err := decodeMember(members, "stream", &req.Stream); err != nil {
		return req, err
	}
	raw, ok := members["stream_options"]
	if !ok || isNull(raw) {
		return req, nil
	}
	var opts map[string]json.RawMessage
	if err := json.Unmarshal(raw, &opts); err != nil || opts == nil {
		return req, errors.New("stream_options must be an object")
	}
	req.StreamOptions = true
	err := decodeMember(opts, "include_usage", &req.IncludeUsage)
	return req, err
}

// decodeMember decodes members[name] into v when present and not null.
func decodeMember(members map[string]json.RawMessage, name string, v any) error {
	raw, ok := members[name]
	if !ok || isNull(raw) {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("member %q has the wrong type: %w", name, err)
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }
