//go:build !linux

package router

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
