package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// DefaultHandoffTimeout bounds dialing the data socket and writing the
// preamble when the caller's context has no earlier deadline.
const DefaultHandoffTimeout = 5 * time.Second

// ErrNoFDPassing is returned by PassFD when the connection has no kernel
// descriptor (a userspace-stack connection) or the Handoff has no
// fd-passing socket.
var ErrNoFDPassing = errors.New("sdk: fd passing not possible for this connection")

// HandoffConfig configures a Handoff.
type HandoffConfig struct {
	// SocketPath is the plugin's data socket for the splice path; empty
	// disables Splice.
	SocketPath string
	// FDConn is the host's end of the fd-passing socket pair; nil disables
	// PassFD. The Handoff owns it and closes it in Close.
	FDConn *net.UnixConn
	// Timeout bounds the setup of one hand-off (dial and preamble) when
	// the context allows longer; zero means DefaultHandoffTimeout.
	Timeout time.Duration
}

// Handoff is the host side of one plugin's data plane: it hands accepted,
// already authorized connections to the plugin with the peer's identity.
// It is safe for concurrent use.
type Handoff struct {
	socketPath string
	timeout    time.Duration
	fdMu       sync.Mutex // serializes deadline and send on fdConn
	fdConn     *net.UnixConn
}

// Transfer counts the bytes a spliced connection carried.
type Transfer struct {
	In  int64 // from the client to the plugin
	Out int64 // from the plugin to the client
}

// NewHandoff returns a Handoff; at least one path must be configured.
func NewHandoff(cfg HandoffConfig) (*Handoff, error) {
	if cfg.SocketPath == "" && cfg.FDConn == nil {
		return nil, errors.New("sdk: new handoff: neither a data socket nor an fd-passing socket")
	}
	h := &Handoff{socketPath: cfg.SocketPath, fdConn: cfg.FDConn, timeout: cfg.Timeout}
	if h.timeout <= 0 {
		h.timeout = DefaultHandoffTimeout
	}
	return h, nil
}

// ErrNotDelivered is wrapped by hand-off errors that happened because the
// plugin could not be reached: the descriptor could not be sent, or the
// data socket could not be dialled or did not take the preamble. Not a
// byte of the connection was read, so it can be handed to another plugin
// process (see TryDeliver). Errors that would recur with any process (no
// valid preamble for the peer) do not wrap it.
var ErrNotDelivered = errors.New("sdk: connection not handed to the plugin")

// notDelivered marks err as a failure before the hand-off (ErrNotDelivered)
// while keeping err's message.
type notDelivered struct{ err error }

func (e notDelivered) Error() string   { return e.err.Error() }
func (e notDelivered) Unwrap() []error { return []error{ErrNotDelivered, e.err} }

// Deliver hands c to the plugin by passing its descriptor when possible,
// and by splicing otherwise. It takes ownership of c. With fd passing it
// returns as soon as the plugin has the descriptor; when splicing it
// returns when the connection ends, so call it in the connection's own
// goroutine.
func (h *Handoff) Deliver(ctx context.Context, c net.Conn, p Peer) error {
	err := h.TryDeliver(ctx, c, p)
	if errors.Is(err, ErrNotDelivered) {
		_ = c.Close()
	}
	return err
}

// TryDeliver is Deliver, except when the hand-off fails before the plugin
// could see the connection (the error wraps ErrNotDelivered): then c is
// left open and unread, for the caller to close or to hand to a restarted
// plugin process. In every other case it takes ownership of c.
func (h *Handoff) TryDeliver(ctx context.Context, c net.Conn, p Peer) error {
	if h.fdConn != nil && canPassFD(c) {
		return h.passFD(ctx, c, p)
	}
	u, err := h.dialData(ctx, p)
	if err != nil {
		if !errors.Is(err, ErrNotDelivered) {
			_ = c.Close()
		}
		return err
	}
	_, err = h.splice(ctx, c, u)
	return err
}

// Splice dials the plugin's data socket, writes the preamble for p, and
// copies bytes both ways until both directions end, propagating each
// half-close with CloseWrite. It takes ownership of c and closes it. When
// ctx ends, both connections are closed. The error is that of the first
// direction that failed; a clean end in both directions is nil.
func (h *Handoff) Splice(ctx context.Context, c net.Conn, p Peer) (Transfer, error) {
	u, err := h.dialData(ctx, p)
	if err != nil {
		_ = c.Close()
		return Transfer{}, err
	}
	return h.splice(ctx, c, u)
}

// dialData dials the plugin's data socket and writes the preamble for p.
// Failures to reach the plugin wrap ErrNotDelivered; a missing socket or
// a peer that has no valid preamble would fail again and do not.
func (h *Handoff) dialData(ctx context.Context, p Peer) (net.Conn, error) {
	if h.socketPath == "" {
		return nil, errors.New("sdk: splice: no data socket configured")
	}
	pre, err := EncodePreamble(p)
	if err != nil {
		return nil, fmt.Errorf("sdk: splice: %w", err)
	}
	setup, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	var d net.Dialer
	u, err := d.DialContext(setup, "unix", h.socketPath)
	if err != nil {
		return nil, notDelivered{fmt.Errorf("sdk: splice: dial data socket: %w", err)}
	}
	dl, _ := setup.Deadline()
	_ = u.SetWriteDeadline(dl)
	if _, err := u.Write(pre); err != nil {
		_ = u.Close()
		return nil, notDelivered{fmt.Errorf("sdk: splice: write preamble: %w", err)}
	}
	_ = u.SetWriteDeadline(time.Time{})
	return u, nil
}

// splice copies between c and the plugin's data connection u until both
// directions end (see Splice), and closes both.
func (h *Handoff) splice(ctx context.Context, c, u net.Conn) (Transfer, error) {
	defer c.Close()
	defer u.Close()
	stop := context.AfterFunc(ctx, func() {
		_ = c.Close()
		_ = u.Close()
	})
	defer stop()
	return pipe(c, u)
}

// pipe copies client->plugin and plugin->client until both directions
// end. A clean EOF half-closes the other side; an error closes both.
func pipe(client, plugin net.Conn) (Transfer, error) {
	var t Transfer
	outErr := make(chan error, 1)
	go func() {
		n, err := io.Copy(client, plugin)
		t.Out = n
		outErr <- finishDirection(client, plugin, err)
	}()
	n, err := io.Copy(plugin, client)
	t.In = n
	inErr := finishDirection(plugin, client, err)
	if err := <-outErr; err != nil && inErr == nil {
		inErr = err
	}
	return t, inErr
}

// finishDirection ends one copy direction: after a clean EOF it
// half-closes dst (or closes it when it cannot half-close); after an error
// it closes both so the other direction stops too.
func finishDirection(dst, src net.Conn, err error) error {
	if err != nil {
		_ = dst.Close()
		_ = src.Close()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		return fmt.Errorf("sdk: splice: %w", err)
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() == nil {
			return nil
		}
	}
	_ = dst.Close()
	return nil
}

// Close closes the fd-passing socket. Hand-offs in progress are not
// interrupted; later PassFD calls fail.
func (h *Handoff) Close() error {
	if h.fdConn == nil {
		return nil
	}
	return h.fdConn.Close()
}
