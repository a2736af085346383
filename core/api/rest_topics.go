package api

import (
	"encoding/base64"
	"net/http"

	"github.com/mycelium-go/mycelium/core/message"
)

func (s *Server) getDefaultTopicAction(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, DefaultTopicAction{Accept: s.deps.Bus.DefaultAccept()})
}

func (s *Server) setDefaultTopicAction(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Accept *bool `json:"accept"`
	}
	if err := decodeJSON(w, r, smallBody, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Accept == nil {
		writeError(w, badRequest("accept is missing; want {\"accept\": true} or {\"accept\": false}"))
		return
	}
	s.deps.Bus.SetDefaultAccept(*req.Accept)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) topicList() []string {
	out := []string{}
	for _, t := range s.deps.Bus.Topics() {
		out = append(out, base64.StdEncoding.EncodeToString(t))
	}
	return out
}

func (s *Server) getTopics(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.topicList())
}

func (s *Server) addTopic(w http.ResponseWriter, r *http.Request) {
	var topic TopicBytes
	if err := decodeJSON(w, r, smallBody, &topic); err != nil {
		writeError(w, err)
		return
	}
	if err := s.deps.Bus.AddTopic(topic); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// withTopic runs f with the path's topic, answering 400 for a bad one.
func withTopic(f func(w http.ResponseWriter, r *http.Request, topic []byte) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		topic, err := pathTopic(r)
		if err == nil {
			err = f(w, r, topic)
		}
		if err != nil {
			writeError(w, err)
		}
	}
}

func (s *Server) removeTopic(w http.ResponseWriter, r *http.Request) {
	withTopic(func(w http.ResponseWriter, _ *http.Request, topic []byte) error {
		if err := s.deps.Bus.RemoveTopic(topic); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})(w, r)
}

func (s *Server) sourceList(topic []byte) ([]string, error) {
	src, err := s.deps.Bus.TopicSources(topic)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(src))
	for i, p := range src {
		out[i] = p.String()
	}
	return out, nil
}

func (s *Server) getTopicSources(w http.ResponseWriter, r *http.Request) {
	withTopic(func(w http.ResponseWriter, _ *http.Request, topic []byte) error {
		src, err := s.sourceList(topic)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, src)
		return nil
	})(w, r)
}

func (s *Server) addTopicSource(w http.ResponseWriter, r *http.Request) {
	withTopic(func(w http.ResponseWriter, r *http.Request, topic []byte) error {
		var req TopicSourceRequest
		if err := decodeJSON(w, r, smallBody, &req); err != nil {
			return err
		}
		p, err := message.ParseSubnet(req.Subnet)
		if err != nil {
			return badRequest("subnet %q is neither a CIDR subnet nor an IP address", req.Subnet)
		}
		if err := s.deps.Bus.AddTopicSource(topic, p); err != nil {
			return err
		}
		w.WriteHeader(http.StatusCreated)
		return nil
	})(w, r)
}

func (s *Server) removeTopicSource(w http.ResponseWriter, r *http.Request) {
	withTopic(func(w http.ResponseWriter, r *http.Request, topic []byte) error {
		p, err := message.ParseSubnet(r.PathValue("subnet"))
		if err != nil {
			return badRequest("subnet %q is neither a CIDR subnet nor an IP address", r.PathValue("subnet"))
		}
		if err := s.deps.Bus.RemoveTopicSource(topic, p); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})(w, r)
}

func (s *Server) getTopicForward(w http.ResponseWriter, r *http.Request) {
	withTopic(func(w http.ResponseWriter, _ *http.Request, topic []byte) error {
		path, ok, err := s.deps.Bus.ForwardSocket(topic)
		if err != nil {
			return err
		}
		if !ok {
			writeJSON(w, http.StatusOK, nil)
			return nil
		}
		writeJSON(w, http.StatusOK, path)
		return nil
	})(w, r)
}

func (s *Server) setTopicForward(w http.ResponseWriter, r *http.Request) {
	withTopic(func(w http.ResponseWriter, r *http.Request, topic []byte) error {
		var req TopicForwardSocketRequest
		if err := decodeJSON(w, r, smallBody, &req); err != nil {
			return err
		}
		if req.SocketPath == "" {
			return badRequest("socketPath is missing; want {\"socketPath\": \"/path/to/socket\"}")
		}
		if err := s.deps.Bus.SetForwardSocket(topic, req.SocketPath); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})(w, r)
}

func (s *Server) removeTopicForward(w http.ResponseWriter, r *http.Request) {
	withTopic(func(w http.ResponseWriter, _ *http.Request, topic []byte) error {
		if err := s.deps.Bus.RemoveForwardSocket(topic); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})(w, r)
}
