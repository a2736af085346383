package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// dialError marks a failure to connect to a node over the mesh, as
// opposed to a failure on an established connection.
type dialError struct {
	addr string
	err  error
}

func (e *dialError) Error() string { return fmt.Sprintf("dial %s over the mesh: %v", e.addr, e.err) }
func (e *dialError) Unwrap() error { return e.err }

func isDialError(err error) bool {
	var d *dialError
	return errors.As(err, &d)
}

// newTransport returns an http.Transport whose connections are dialled
// through the node with host.Dial. Connections to a node are kept alive
// and reused.
func newTransport(host sdk.Host, dialTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy: nil, // the mesh is reached through the node, never a proxy
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, dialTimeout)
			defer cancel()
			c, err := host.Dial(ctx, "tcp", addr)
			if err != nil {
				return nil, &dialError{addr: addr, err: err}
			}
			return c, nil
		},
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		// Shorter than the serve role's idle timeout, so the client closes
		// an idle connection before the server does.
		IdleConnTimeout: 50 * time.Second,
	}
}
