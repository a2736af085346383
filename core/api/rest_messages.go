package api

import (
	"context"
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/mycelium-go/mycelium/core/message"
)

// seconds converts a client's seconds to a duration, saturating.
func seconds(n uint64) time.Duration {
	if n > math.MaxInt64/uint64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(n) * time.Second
}

// messageBodyLimit bounds push bodies: base64 of the largest message plus
// room for the rest of the JSON.
func (s *Server) messageBodyLimit() int64 {
	return int64(s.cfg.MaxMessageSize)/3*4 + 4 + 64<<10
}

// pop waits up to timeout for a message.
func (s *Server) pop(ctx context.Context, peek bool, timeout time.Duration, topic []byte, match bool) (*message.Message, bool) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return s.deps.Bus.Pop(ctx, topic, match, peek)
}

func (s *Server) popMessage(w http.ResponseWriter, r *http.Request) {
	peek, err := queryBool(r, "peek")
	if err != nil {
		writeError(w, err)
		return
	}
	secs, _, err := querySeconds(r, "timeout")
	if err != nil {
		writeError(w, err)
		return
	}
	var topic []byte
	match := r.URL.Query().Has("topic")
	if match {
		if topic, err = decodeTopic(r.URL.Query().Get("topic")); err != nil {
			writeError(w, err)
			return
		}
	}
	m, ok := s.pop(r.Context(), peek, seconds(secs), topic, match)
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, inboundMessage(m))
}

func (s *Server) decodePush(w http.ResponseWriter, r *http.Request) (message.Outgoing, error) {
	var body PushMessageBody
	if err := decodeJSON(w, r, s.messageBodyLimit(), &body); err != nil {
		return message.Outgoing{}, err
	}
	if !body.Dst.Addr().IsValid() {
		return message.Outgoing{}, badRequest("destination is missing; want {\"ip\": ...} or {\"pk\": ...}")
	}
	return message.Outgoing{Dst: body.Dst.Addr(), Topic: body.Topic, Payload: body.Payload}, nil
}

func (s *Server) pushMessage(w http.ResponseWriter, r *http.Request) {
	secs, wait, err := querySeconds(r, "reply_timeout")
	if err != nil {
		writeError(w, err)
		return
	}
	out, err := s.decodePush(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	if !wait {
		id, err := s.deps.Bus.Push(out)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, PushMessageResponseID{ID: id.String()})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), seconds(secs))
	defer cancel()
	id, reply, err := s.deps.Bus.PushWait(ctx, out)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, inboundMessage(reply))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		writeJSON(w, http.StatusRequestTimeout, PushMessageResponseID{ID: id.String()})
	default:
		writeError(w, err)
	}
}

func (s *Server) replyMessage(w http.ResponseWriter, r *http.Request) {
	id, err := parseMessageID(r.PathValue("id"))
	if err != nil {
		writeError(w, badRequest("message id %q: want 16 hex digits", r.PathValue("id")))
		return
	}
	out, err := s.decodePush(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.deps.Bus.Reply(id, out.Dst, out.Payload); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) messageStatus(w http.ResponseWriter, r *http.Request) {
	id, err := parseMessageID(r.PathValue("id"))
	if err != nil {
		writeError(w, badRequest("message id %q: want 16 hex digits", r.PathValue("id")))
		return
	}
	st, ok := s.deps.Bus.Status(id)
	if !ok {
		http.Error(w, "no outgoing message with id "+id.String(), http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, messageInfo(st))
}
