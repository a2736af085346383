package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/coder/websocket"
	"github.com/creachadair/jrpc2"
	"github.com/creachadair/jrpc2/channel"
)

// isWebSocket reports whether req asks to upgrade to a WebSocket.
func isWebSocket(req *http.Request) bool {
	return req.Method == http.MethodGet &&
		strings.EqualFold(req.Header.Get("Upgrade"), "websocket")
}

// serveWebSocket runs JSON-RPC over one WebSocket connection, as the
// reference's jsonrpsee server offers on the same port: one JSON-RPC
// message (request, response or batch) per text message. Browsers from
// other origins are refused (the WebSocket library's origin check).
func (r *rpcServer) serveWebSocket(w http.ResponseWriter, req *http.Request) {
	r.ws.Add(1)
	defer r.ws.Done()
	c, err := websocket.Accept(w, req, nil)
	if err != nil {
		return // Accept answered the request
	}
	defer c.CloseNow()
	c.SetReadLimit(r.s.messageBodyLimit() + 4096)
	ch := &wsChannel{ctx: req.Context(), c: c}
	srv := jrpc2.NewServer(r.assigner, &jrpc2.ServerOptions{Concurrency: 16, DisableBuiltin: true}).Start(ch)
	stop := context.AfterFunc(req.Context(), srv.Stop)
	defer stop()
	srv.Wait()
	c.Close(websocket.StatusNormalClosure, "")
}

// wsChannel is a jrpc2 channel over a WebSocket: a record per message.
type wsChannel struct {
	ctx context.Context
	c   *websocket.Conn
}

func (w *wsChannel) Send(msg []byte) error {
	return w.c.Write(w.ctx, websocket.MessageText, msg)
}

func (w *wsChannel) Recv() ([]byte, error) {
	_, msg, err := w.c.Read(w.ctx)
	if err != nil {
		var ce websocket.CloseError
		if errors.As(err, &ce) || errors.Is(err, context.Canceled) {
			return nil, io.EOF
		}
		return nil, err
	}
	return msg, nil
}

func (w *wsChannel) Close() error { return w.c.Close(websocket.StatusNormalClosure, "") }

var _ channel.Channel = (*wsChannel)(nil)
