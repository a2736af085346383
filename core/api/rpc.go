package api

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"sync"

	"github.com/creachadair/jrpc2"
	"github.com/creachadair/jrpc2/handler"
	"github.com/creachadair/jrpc2/jhttp"

	"github.com/mycelium-go/mycelium/core/message"
)

// openRPC is the reference's OpenRPC document, answered by rpc.discover.
//
//go:embed openrpc.json
var openRPC []byte

// JSON-RPC error codes of the reference (spec §8.2).
const (
	codeBadIP          jrpc2.Code = -32007
	codeNoPublicKey    jrpc2.Code = -32008
	codeBadEndpointAdd jrpc2.Code = -32009
	codePeerExists     jrpc2.Code = -32010
	codePeerNotFound   jrpc2.Code = -32011
	codeBadEndpointDel jrpc2.Code = -32012
	codeBadTopicPop    jrpc2.Code = -32013
	codeTopicTooLarge  jrpc2.Code = -32015
	codePushFailed     jrpc2.Code = -32016
	codeReplyFailed    jrpc2.Code = -32017
	codeBadReplyID     jrpc2.Code = -32018
	codeUnknownMessage jrpc2.Code = -32019
	codeBadMessageID   jrpc2.Code = -32020
	codeBadTopic       jrpc2.Code = -32021
	codeBadSubnet      jrpc2.Code = -32023
	codeUnknownTopic   jrpc2.Code = -32030
	codeProxy          jrpc2.Code = -32032
)

// rpcServer is the JSON-RPC 2.0 endpoint: HTTP POST on any path, or a
// WebSocket (GET with Upgrade) on any path.
type rpcServer struct {
	s        *Server
	assigner handler.Map
	bridge   jhttp.Bridge
	once     sync.Once
	ws       sync.WaitGroup // WebSocket sessions
}

func newRPCServer(s *Server) *rpcServer {
	r := &rpcServer{s: s}
	r.assigner = r.methods()
	r.bridge = jhttp.NewBridge(r.assigner, &jhttp.BridgeOptions{
		Server: &jrpc2.ServerOptions{Concurrency: 64, DisableBuiltin: true},
	})
	return r
}

func (r *rpcServer) close() { r.once.Do(func() { r.bridge.Close() }) }

// ServeHTTP bounds the body and answers unparseable JSON with a JSON-RPC
// parse error (-32700) and HTTP 400, then hands over to the bridge.
func (r *rpcServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if isWebSocket(req) {
		r.serveWebSocket(w, req)
		return
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "JSON-RPC wants POST", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.s.messageBodyLimit()+4096))
	if err != nil {
		http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	if !json.Valid(body) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{
			"jsonrpc": "2.0", "id": nil,
			"error": map[string]any{"code": jrpc2.ParseError, "message": "parse error: the request body is not valid JSON"},
		})
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	r.bridge.ServeHTTP(w, req)
}

// params unpacks positional (array) or named (object) parameters into
// dst; trailing positional parameters may be left out, null leaves a
// value unset.
func params(req *jrpc2.Request, names []string, dst ...any) error {
	if !req.HasParams() {
		return nil
	}
	raw := bytes.TrimSpace([]byte(req.ParamString()))
	var fields []json.RawMessage
	switch {
	case len(raw) > 0 && raw[0] == '[':
		if err := json.Unmarshal(raw, &fields); err != nil {
			return jrpc2.Errorf(jrpc2.InvalidParams, "params: %v", err)
		}
		if len(fields) > len(dst) {
			return jrpc2.Errorf(jrpc2.InvalidParams, "got %d parameters, want at most %d", len(fields), len(dst))
		}
	case len(raw) > 0 && raw[0] == '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return jrpc2.Errorf(jrpc2.InvalidParams, "params: %v", err)
		}
		fields = make([]json.RawMessage, len(dst))
		for k, v := range obj {
			i := indexOf(names, k)
			if i < 0 {
				return jrpc2.Errorf(jrpc2.InvalidParams, "unknown parameter %q", k)
			}
			fields[i] = v
		}
	default:
		return jrpc2.Errorf(jrpc2.InvalidParams, "params must be an array or an object")
	}
	for i, f := range fields {
		if len(f) == 0 || string(f) == "null" {
			continue
		}
		if err := json.Unmarshal(f, dst[i]); err != nil {
			return jrpc2.Errorf(jrpc2.InvalidParams, "parameter %s: %v", names[i], err)
		}
	}
	return nil
}

func indexOf(names []string, k string) int {
	for i, n := range names {
		if n == k {
			return i
		}
	}
	return -1
}

// method adapts a handler with named parameters.
func method(names []string, f func(ctx context.Context, p func(dst ...any) error) (any, error)) jrpc2.Handler {
	return func(ctx context.Context, req *jrpc2.Request) (any, error) {
		return f(ctx, func(dst ...any) error { return params(req, names, dst...) })
	}
}

// noParams adapts a handler without parameters.
func noParams(f func(ctx context.Context) (any, error)) jrpc2.Handler {
	return func(ctx context.Context, req *jrpc2.Request) (any, error) {
		if err := params(req, nil); err != nil {
			return nil, err
		}
		return f(ctx)
	}
}

// rpcList answers a list (never null) or an internal error.
func rpcList[T any](v []T, err error) (any, error) {
	if err != nil {
		return nil, jrpc2.Errorf(jrpc2.InternalError, "%v", err)
	}
	return nonNil(v), nil
}

func rpcTopic(s string) ([]byte, error) {
	t, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if t, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return nil, jrpc2.Errorf(codeBadTopic, "topic %q is not standard base64", s)
		}
	}
	if len(t) > 255 {
		return nil, jrpc2.Errorf(codeBadTopic, "topic is longer than 255 bytes")
	}
	return t, nil
}

// ok answers true, or the bus's refusal of a topic.
func ok(err error) (any, error) {
	if err != nil {
		return nil, jrpc2.Errorf(codeBadTopic, "%v", err)
	}
	return true, nil
}

func (r *rpcServer) methods() handler.Map {
	s := r.s
	m := handler.Map{
		"rpc.discover": noParams(func(context.Context) (any, error) { return json.RawMessage(openRPC), nil }),
		"getInfo":      noParams(func(context.Context) (any, error) { return s.info(), nil }),
		"getPeers":     noParams(func(context.Context) (any, error) { return s.peers(), nil }),
		"getSelectedRoutes": noParams(func(ctx context.Context) (any, error) {
			return rpcList(s.deps.Node.SelectedRoutes(ctx))
		}),
		"getFallbackRoutes": noParams(func(ctx context.Context) (any, error) {
			return rpcList(s.deps.Node.FallbackRoutes(ctx))
		}),
		"getQueriedSubnets": noParams(func(ctx context.Context) (any, error) {
			return rpcList(s.deps.Node.QueriedSubnets(ctx))
		}),
		"getPacketStatistics": noParams(func(context.Context) (any, error) { return s.packetStatistics(), nil }),
		"getPublicKeyFromIp":  method([]string{"mycelium_ip"}, r.getPublicKeyFromIP),
		"addPeer":             method([]string{"endpoint"}, r.addPeer),
		"deletePeer":          method([]string{"endpoint"}, r.deletePeer),
	}
	r.proxyMethods(m)
	r.messageMethods(m)
	r.topicMethods(m)
	return m
}

func (r *rpcServer) getPublicKeyFromIP(_ context.Context, p func(...any) error) (any, error) {
	var ip string
	if err := p(&ip); err != nil {
		return nil, err
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return nil, jrpc2.Errorf(codeBadIP, "%q is not an IP address", ip)
	}
	pk, found := r.s.deps.Node.PublicKeyOf(a)
	if !found {
		return nil, jrpc2.Errorf(codeNoPublicKey, "no public key known for %s", a)
	}
	return pk.String(), nil
}

func (r *rpcServer) addPeer(_ context.Context, p func(...any) error) (any, error) {
	var ep string
	if err := p(&ep); err != nil {
		return nil, err
	}
	err := r.s.deps.Node.AddPeer(ep)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrPeerExists):
		return nil, jrpc2.Errorf(codePeerExists, "%v", err)
	default:
		return nil, jrpc2.Errorf(codeBadEndpointAdd, "%v", err)
	}
}

func (r *rpcServer) deletePeer(_ context.Context, p func(...any) error) (any, error) {
	var ep string
	if err := p(&ep); err != nil {
		return nil, err
	}
	err := r.s.deps.Node.RemovePeer(ep)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrPeerNotFound):
		return nil, jrpc2.Errorf(codePeerNotFound, "%v", err)
	default:
		return nil, jrpc2.Errorf(codeBadEndpointDel, "%v", err)
	}
}

func (r *rpcServer) proxyMethods(m handler.Map) {
	px := r.s.deps.Proxy
	m["getProxies"] = noParams(func(context.Context) (any, error) { return r.s.proxyList(), nil })
	m["connectProxy"] = method([]string{"remote"}, func(ctx context.Context, p func(...any) error) (any, error) {
		var remote *string
		if err := p(&remote); err != nil {
			return nil, err
		}
		var ap *netip.AddrPort
		if remote != nil {
			a, err := netip.ParseAddrPort(*remote)
			if err != nil {
				return nil, jrpc2.Errorf(codeProxy, "remote %q is not an ip:port socket address", *remote)
			}
			ap = &a
		}
		addr, err := px.Connect(ctx, ap)
		if err != nil {
			return nil, jrpc2.Errorf(codeProxy, "%v", err)
		}
		return addr.String(), nil
	})
	m["disconnectProxy"] = noParams(func(context.Context) (any, error) { px.Disconnect(); return true, nil })
	m["startProxyProbe"] = noParams(func(context.Context) (any, error) { px.StartProbe(); return true, nil })
	m["stopProxyProbe"] = noParams(func(context.Context) (any, error) { px.StopProbe(); return true, nil })
}

func pushError(err error) error {
	if errors.Is(err, message.ErrTopicTooLarge) {
		return jrpc2.Errorf(codeTopicTooLarge, "topic is longer than 255 bytes")
	}
	_, msg := statusOf(err)
	return jrpc2.Errorf(codePushFailed, "%s", msg)
}

func (r *rpcServer) messageMethods(m handler.Map) {
	bus := r.s.deps.Bus
	m["popMessage"] = method([]string{"peek", "timeout", "topic"}, func(ctx context.Context, p func(...any) error) (any, error) {
		var peek bool
		var timeout uint64
		var topic *string
		if err := p(&peek, &timeout, &topic); err != nil {
			return nil, err
		}
		var t []byte
		if topic != nil {
			var err error
			if t, err = base64.StdEncoding.DecodeString(*topic); err != nil || len(t) > 255 {
				return nil, jrpc2.Errorf(codeBadTopicPop, "topic %q is not standard base64 of at most 255 bytes", *topic)
			}
		}
		msg, found := r.s.pop(ctx, peek, seconds(timeout), t, topic != nil)
		if !found {
			return nil, nil
		}
		return inboundMessage(msg), nil
	})
	m["pushMessage"] = method([]string{"message", "reply_timeout"}, func(ctx context.Context, p func(...any) error) (any, error) {
		var body PushMessageBody
		var timeout *uint64
		if err := p(&body, &timeout); err != nil {
			return nil, err
		}
		out := message.Outgoing{Dst: body.Dst.Addr(), Topic: body.Topic, Payload: body.Payload}
		if timeout == nil {
			id, err := bus.Push(out)
			if err != nil {
				return nil, pushError(err)
			}
			return PushMessageResponseID{ID: id.String()}, nil
		}
		ctx, cancel := context.WithTimeout(ctx, seconds(*timeout))
		defer cancel()
		id, reply, err := bus.PushWait(ctx, out)
		switch {
		case err == nil:
			return inboundMessage(reply), nil
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			return PushMessageResponseID{ID: id.String()}, nil
		case errors.Is(err, message.ErrClosed):
			return nil, jrpc2.Errorf(codeReplyFailed, "the message bus stopped while waiting for the reply")
		default:
			return nil, pushError(err)
		}
	})
	m["pushMessageReply"] = method([]string{"id", "message"}, func(_ context.Context, p func(...any) error) (any, error) {
		var idStr string
		var body PushMessageBody
		if err := p(&idStr, &body); err != nil {
			return nil, err
		}
		id, err := parseMessageID(idStr)
		if err != nil {
			return nil, jrpc2.Errorf(codeBadReplyID, "message id %q: want 16 hex digits", idStr)
		}
		if err := bus.Reply(id, body.Dst.Addr(), body.Payload); err != nil {
			return nil, pushError(err)
		}
		return true, nil
	})
	m["getMessageInfo"] = method([]string{"id"}, func(_ context.Context, p func(...any) error) (any, error) {
		var idStr string
		if err := p(&idStr); err != nil {
			return nil, err
		}
		id, err := parseMessageID(idStr)
		if err != nil {
			return nil, jrpc2.Errorf(codeBadMessageID, "message id %q: want 16 hex digits", idStr)
		}
		st, found := bus.Status(id)
		if !found {
			return nil, jrpc2.Errorf(codeUnknownMessage, "no outgoing message with id %s", id)
		}
		return messageInfo(st), nil
	})
}

// topicArg is a handler body with its topic decoded.
func topicMethod(names []string, f func(topic []byte, rest ...any) (any, error), extra ...func() any) jrpc2.Handler {
	return method(names, func(_ context.Context, p func(...any) error) (any, error) {
		var ts string
		dst := []any{&ts}
		rest := make([]any, len(extra))
		for i, e := range extra {
			rest[i] = e()
			dst = append(dst, rest[i])
		}
		if err := p(dst...); err != nil {
			return nil, err
		}
		t, err := rpcTopic(ts)
		if err != nil {
			return nil, err
		}
		return f(t, rest...)
	})
}

func newString() any { return new(string) }

func (r *rpcServer) topicMethods(m handler.Map) {
	bus := r.s.deps.Bus
	m["getDefaultTopicAction"] = noParams(func(context.Context) (any, error) { return bus.DefaultAccept(), nil })
	m["setDefaultTopicAction"] = method([]string{"accept"}, func(_ context.Context, p func(...any) error) (any, error) {
		var accept *bool
		if err := p(&accept); err != nil {
			return nil, err
		}
		if accept == nil {
			return nil, jrpc2.Errorf(jrpc2.InvalidParams, "accept is missing")
		}
		bus.SetDefaultAccept(*accept)
		return true, nil
	})
	m["getTopics"] = noParams(func(context.Context) (any, error) { return r.s.topicList(), nil })
	m["addTopic"] = topicMethod([]string{"topic"}, func(t []byte, _ ...any) (any, error) { return ok(bus.AddTopic(t)) })
	m["removeTopic"] = topicMethod([]string{"topic"}, func(t []byte, _ ...any) (any, error) { return ok(bus.RemoveTopic(t)) })
	m["getTopicSources"] = topicMethod([]string{"topic"}, func(t []byte, _ ...any) (any, error) {
		src, err := r.s.sourceList(t)
		if err != nil {
			return nil, jrpc2.Errorf(codeUnknownTopic, "topic is not configured")
		}
		return src, nil
	})
	sourceChange := func(f func([]byte, netip.Prefix) error) jrpc2.Handler {
		return topicMethod([]string{"topic", "subnet"}, func(t []byte, rest ...any) (any, error) {
			sub := *rest[0].(*string)
			pfx, err := message.ParseSubnet(sub)
			if err != nil {
				return nil, jrpc2.Errorf(codeBadSubnet, "subnet %q is neither a CIDR subnet nor an IP address", sub)
			}
			return ok(f(t, pfx))
		}, newString)
	}
	m["addTopicSource"] = sourceChange(bus.AddTopicSource)
	m["removeTopicSource"] = sourceChange(bus.RemoveTopicSource)
	m["getTopicForwardSocket"] = topicMethod([]string{"topic"}, func(t []byte, _ ...any) (any, error) {
		path, set, _ := bus.ForwardSocket(t)
		if !set {
			return nil, nil
		}
		return path, nil
	})
	m["setTopicForwardSocket"] = topicMethod([]string{"topic", "socket_path"}, func(t []byte, rest ...any) (any, error) {
		path := *rest[0].(*string)
		if path == "" {
			return nil, jrpc2.Errorf(jrpc2.InvalidParams, "socket_path is missing")
		}
		return ok(bus.SetForwardSocket(t, path))
	}, newString)
	m["removeTopicForwardSocket"] = topicMethod([]string{"topic"}, func(t []byte, _ ...any) (any, error) {
		return ok(bus.RemoveForwardSocket(t))
	})
}
