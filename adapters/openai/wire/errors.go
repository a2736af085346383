package wire

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Error types and codes used in OpenAI-shaped error bodies.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeServer         = "server_error"
	TypeRequests       = "requests" // rate limit on requests per minute
	TypeTokens         = "tokens"   // rate limit on tokens per minute

	CodeInvalidAPIKey       = "invalid_api_key"
	CodeModelNotFound       = "model_not_found"
	CodeRateLimitExceeded   = "rate_limit_exceeded"
	CodeUpstreamUnavailable = "upstream_unavailable"
	CodeStreamInterrupted   = "stream_interrupted"
	CodeInvalidJSON         = "invalid_json"
	CodeUnknownURL          = "unknown_url"
	CodeForbidden           = "forbidden"
	CodeNotConfigured       = "not_configured"
	CodeBodyTooLarge        = "request_too_large"
)

// Error is an OpenAI-shaped API error: it is written as
// {"error":{"message":...,"type":...,"param":...,"code":...}}.
type Error struct {
	Status  int    // HTTP status
	Message string // human-readable message
	Type    string // e.g. invalid_request_error
	Code    string // e.g. model_not_found; empty is written as null
	Param   string // the offending request parameter; empty is written as null
}

func (e *Error) Error() string { return e.Message }

type errorBody struct {
	Error errorFields `json:"error"`
}

type errorFields struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Body returns the JSON error body.
func (e *Error) Body() []byte {
	b, _ := json.Marshal(errorBody{Error: errorFields{
		Message: e.Message,
		Type:    e.Type,
		Param:   nullable(e.Param),
		Code:    nullable(e.Code),
	}})
	return b
}

// Write writes e as the HTTP response.
func (e *Error) Write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(e.Status)
	_, _ = w.Write(append(e.Body(), '\n'))
}

// EventFrame returns e as one server-sent event ("data: {...}\n\n"), the
// way an error is reported after a stream has started. The official
// openai Python and Node clients raise an APIError for such an event.
func (e *Error) EventFrame() []byte {
	b := append([]byte("data: "), e.Body()...)
	return append(b, '\n', '\n')
}

// RetryAfterSeconds formats d for a Retry-After header: whole seconds,
// rounded up, at least 1.
func RetryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// NotFoundModel is the 404 for a model no node serves.
func NotFoundModel(model string) *Error {
	return &Error{
		Status:  http.StatusNotFound,
		Message: "The model `" + model + "` does not exist or you do not have access to it.",
		Type:    TypeInvalidRequest,
		Code:    CodeModelNotFound,
		Param:   "model",
	}
}

// BadGateway is the 502 for an unreachable or failing upstream.
func BadGateway(msg string) *Error {
	return &Error{Status: http.StatusBadGateway, Message: msg, Type: TypeServer, Code: CodeUpstreamUnavailable}
}

// BadRequest is a 400 invalid_request_error.
func BadRequest(code, param, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Message: msg, Type: TypeInvalidRequest, Code: code, Param: param}
}

// UnknownURL is the 404 OpenAI answers for a path it does not serve.
func UnknownURL(r *http.Request) *Error {
	return &Error{
		Status:  http.StatusNotFound,
		Message: "Unknown request URL: " + r.Method + " " + r.URL.Path + ".",
		Type:    TypeInvalidRequest,
		Code:    CodeUnknownURL,
	}
}
