// Package nodetest runs overlay networks in memory for plain `go test`:
// an in-memory link.Link (Pipe: bounded queues, a clean Cut, a silent
// Blackhole), an in-memory tun.Device, IPv6 packet builders, and Net, a
// harness that starts N nodes, links them in a line, ring or random mesh,
// and sends packets from one node's device to another's.
package nodetest

import (
	"context"
	"time"
)

// resend is how often Exchange repeats a packet that has not arrived.
const resend = 500 * time.Millisecond

// sleep waits a little, or until ctx ends.
func sleep(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Millisecond):
		return nil
	}
}
