package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Client talks to a node's REST API; the command line uses it.
type Client struct {
	base  string // "http://127.0.0.1:8989/api/v1"
	token string
	hc    *http.Client
}

// NewClient returns a client for the API at addr ("host:port" or an
// http:// URL), sending token (if not empty) as a bearer token.
func NewClient(addr, token string) *Client {
	base := strings.TrimRight(addr, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &Client{base: base + "/api/v1", token: token, hc: &http.Client{}}
}

// Error is an error answer of the API. Its message is the server's
// sentence (or the status text when it sent none).
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// do sends a request with an optional JSON body and decodes a JSON answer
// into out (if not nil) for the statuses in ok. It returns the status.
func (c *Client) do(ctx context.Context, method, path string, in, out any, ok ...int) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, c.transportError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read the API's answer: %w", err)
	}
	for _, code := range ok {
		if resp.StatusCode != code {
			continue
		}
		if out != nil && len(data) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				return code, fmt.Errorf("the API answered %s with unexpected JSON: %v", path, err)
			}
		}
		return code, nil
	}
	return resp.StatusCode, apiError(resp.StatusCode, data)
}

func apiError(status int, body []byte) error {
	msg := strings.TrimSpace(string(body))
	if msg == "" || strings.HasPrefix(msg, "<") {
		msg = strings.ToLower(http.StatusText(status))
	}
	if status == http.StatusUnauthorized {
		msg += " (pass the node's API token with --api-token or MYCELIUM_API_TOKEN)"
	}
	return &Error{Status: status, Message: msg}
}

func (c *Client) transportError(err error) error {
	host := strings.TrimPrefix(strings.TrimSuffix(c.base, "/api/v1"), "http://")
	var op *net.OpError
	if errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial") {
		return fmt.Errorf("cannot reach the node's API at %s: is the node running?", host)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("the node's API at %s did not answer in time", host)
	}
	return fmt.Errorf("talk to the node's API at %s: %w", host, err)
}

// Info returns GET /admin.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var out Info
	_, err := c.do(ctx, http.MethodGet, "/admin", nil, &out, http.StatusOK)
	return out, err
}

// Peers lists the peers.
func (c *Client) Peers(ctx context.Context) ([]PeerStats, error) {
	var out []PeerStats
	_, err := c.do(ctx, http.MethodGet, "/admin/peers", nil, &out, http.StatusOK)
	return out, err
}

// AddPeer adds a peer by endpoint URI.
func (c *Client) AddPeer(ctx context.Context, endpoint string) error {
	_, err := c.do(ctx, http.MethodPost, "/admin/peers", AddPeerRequest{Endpoint: endpoint}, nil, http.StatusNoContent)
	return err
}

// RemovePeer removes a peer by endpoint URI.
func (c *Client) RemovePeer(ctx context.Context, endpoint string) error {
	_, err := c.do(ctx, http.MethodDelete, "/admin/peers/"+url.PathEscape(endpoint), nil, nil, http.StatusNoContent)
	return err
}

// SelectedRoutes lists the selected routes.
func (c *Client) SelectedRoutes(ctx context.Context) ([]Route, error) {
	var out []Route
	_, err := c.do(ctx, http.MethodGet, "/admin/routes/selected", nil, &out, http.StatusOK)
	return out, err
}

// FallbackRoutes lists the fallback routes.
func (c *Client) FallbackRoutes(ctx context.Context) ([]Route, error) {
	var out []Route
	_, err := c.do(ctx, http.MethodGet, "/admin/routes/fallback", nil, &out, http.StatusOK)
	return out, err
}

// QueriedSubnets lists the subnets being queried.
func (c *Client) QueriedSubnets(ctx context.Context) ([]QueriedSubnet, error) {
	var out []QueriedSubnet
	_, err := c.do(ctx, http.MethodGet, "/admin/routes/queried", nil, &out, http.StatusOK)
	return out, err
}

// PacketStatistics returns the per-address packet counts.
func (c *Client) PacketStatistics(ctx context.Context) (PacketStatistics, error) {
	var out PacketStatistics
	_, err := c.do(ctx, http.MethodGet, "/admin/stats/packets", nil, &out, http.StatusOK)
	return out, err
}

// PublicKey returns the public key of the node owning ip.
func (c *Client) PublicKey(ctx context.Context, ip string) (string, error) {
	var out PublicKeyResponse
	_, err := c.do(ctx, http.MethodGet, "/pubkey/"+url.PathEscape(ip), nil, &out, http.StatusOK)
	return out.PublicKey, err
}

// PushMessage sends a message. With replyTimeout set it waits that long
// for a reply and returns it (nil when none came in time).
func (c *Client) PushMessage(ctx context.Context, body PushMessageBody, replyTimeout *time.Duration) (string, *InboundMessage, error) {
	path := "/messages"
	if replyTimeout != nil {
		path += "?reply_timeout=" + strconv.FormatUint(uint64(replyTimeout.Seconds()), 10)
	}
	var raw json.RawMessage
	code, err := c.do(ctx, http.MethodPost, path, body, &raw, http.StatusCreated, http.StatusOK, http.StatusRequestTimeout)
	if err != nil {
		return "", nil, err
	}
	if code == http.StatusOK {
		var m InboundMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return "", nil, fmt.Errorf("the API answered with an unexpected reply: %v", err)
		}
		return m.ID, &m, nil
	}
	var id PushMessageResponseID
	if err := json.Unmarshal(raw, &id); err != nil {
		return "", nil, fmt.Errorf("the API answered without a message id: %v", err)
	}
	return id.ID, nil, nil
}

// ReplyMessage sends body as the reply to message id.
func (c *Client) ReplyMessage(ctx context.Context, id string, body PushMessageBody) error {
	_, err := c.do(ctx, http.MethodPost, "/messages/reply/"+url.PathEscape(id), body, nil, http.StatusNoContent)
	return err
}

// PopMessage takes the next message (with exactly topic, if not nil),
// waiting up to timeout; nil when none came.
func (c *Client) PopMessage(ctx context.Context, peek bool, timeout time.Duration, topic []byte) (*InboundMessage, error) {
	q := url.Values{}
	if peek {
		q.Set("peek", "true")
	}
	q.Set("timeout", strconv.FormatUint(uint64(timeout.Seconds()), 10))
	if topic != nil {
		q.Set("topic", base64.StdEncoding.EncodeToString(topic))
	}
	var m InboundMessage
	code, err := c.do(ctx, http.MethodGet, "/messages?"+q.Encode(), nil, &m, http.StatusOK, http.StatusNoContent)
	if err != nil || code == http.StatusNoContent {
		return nil, err
	}
	return &m, nil
}

// MessageStatus returns the state of an outgoing message.
func (c *Client) MessageStatus(ctx context.Context, id string) (MessageInfo, error) {
	var out MessageInfo
	_, err := c.do(ctx, http.MethodGet, "/messages/status/"+url.PathEscape(id), nil, &out, http.StatusOK)
	return out, err
}

// Topics lists the configured topics.
func (c *Client) Topics(ctx context.Context) ([][]byte, error) {
	var out [][]byte
	_, err := c.do(ctx, http.MethodGet, "/messages/topics", nil, &out, http.StatusOK)
	return out, err
}

// Proxies lists the known proxies.
func (c *Client) Proxies(ctx context.Context) ([]string, error) {
	var out []string
	_, err := c.do(ctx, http.MethodGet, "/admin/proxy", nil, &out, http.StatusOK)
	return out, err
}
