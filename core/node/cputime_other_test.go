//go:build !linux

package node

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
