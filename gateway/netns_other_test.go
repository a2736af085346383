//go:build !linux

package gateway

import "testing"

func newNetnsNet(t *testing.T) testNet {
	t.Skip("kernel-socket variant needs Linux network namespaces")
	return nil
}
