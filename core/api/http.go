package api

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/mycelium-go/mycelium/core/message"
)

// auth checks the bearer token, if one is configured.
func (s *Server) auth(next http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return next
	}
	want := []byte(s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mycelium"`)
			http.Error(w, "missing or wrong API token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// httpError is an error with the status to answer it with. Its message is
// a sentence for the user.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// statusOf maps an error to an HTTP status and a sentence. It is the one
// place where errors become statuses.
func statusOf(err error) (int, string) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status, he.msg
	case errors.Is(err, ErrPeerExists):
		return http.StatusConflict, err.Error()
	case errors.Is(err, ErrPeerNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, ErrBadEndpoint):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, message.ErrTopicTooLarge):
		return http.StatusBadRequest, "topic is longer than 255 bytes"
	case errors.Is(err, message.ErrDestination):
		return http.StatusBadRequest, strings.TrimPrefix(err.Error(), "message: ")
	case errors.Is(err, message.ErrBadSubnet):
		return http.StatusBadRequest, strings.TrimPrefix(err.Error(), "message: ")
	case errors.Is(err, message.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, strings.TrimPrefix(err.Error(), "message: ")
	case errors.Is(err, message.ErrUnknownTopic):
		return http.StatusNotFound, "topic is not configured"
	case errors.Is(err, message.ErrInFlight):
		return http.StatusConflict, "a message with this id is still being sent"
	case errors.Is(err, message.ErrReplied):
		return http.StatusConflict, "this message was already replied to"
	case errors.Is(err, message.ErrBusy):
		return http.StatusServiceUnavailable, "too many messages are being sent; try again later"
	case errors.Is(err, message.ErrClosed), errors.Is(err, message.ErrNotStarted):
		return http.StatusServiceUnavailable, "the message bus is not running"
	default:
		return http.StatusInternalServerError, err.Error()
	}
}

// writeError answers with err's status and a text/plain sentence.
func writeError(w http.ResponseWriter, err error) {
	code, msg := statusOf(err)
	http.Error(w, msg, code)
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// smallBody bounds request bodies other than message pushes.
const smallBody = 64 << 10

// decodeJSON reads r's body into v. Malformed or oversized bodies become
// 400 errors saying what is wrong.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return &httpError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit)}
		case errors.Is(err, io.EOF):
			return badRequest("request body is empty; want JSON")
		case errors.As(err, &syntax):
			return badRequest("request body is not valid JSON: %v (at byte %d)", syntax, syntax.Offset)
		case errors.As(err, &typ):
			field := typ.Field
			if field == "" {
				field = "body"
			}
			return badRequest("%s: want %s, got JSON %s", field, typ.Type, typ.Value)
		default:
			return badRequest("request body: %v", err)
		}
	}
	if dec.More() {
		return badRequest("request body has data after the JSON value")
	}
	return nil
}

// pathTopic decodes a base64 topic from the URL path.
func pathTopic(r *http.Request) ([]byte, error) {
	return decodeTopic(r.PathValue("topic"))
}

// decodeTopic decodes standard base64 (padded or not).
func decodeTopic(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return nil, badRequest("topic %q is not standard base64", s)
		}
	}
	if len(b) > 255 {
		return nil, badRequest("topic is longer than 255 bytes")
	}
	return b, nil
}

// queryBool parses an optional boolean query parameter.
func queryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("query parameter %s=%q: want true or false", name, v)
	}
	return b, nil
}

// querySeconds parses an optional non-negative number of seconds.
func querySeconds(r *http.Request, name string) (secs uint64, set bool, err error) {
	if !r.URL.Query().Has(name) {
		return 0, false, nil
	}
	v := r.URL.Query().Get(name)
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false, badRequest("query parameter %s=%q: want a whole number of seconds", name, v)
	}
	return n, true, nil
}
