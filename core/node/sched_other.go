//go:build !linux

package node

// batchScheduling is Linux-only.
func batchScheduling() error { return nil }
