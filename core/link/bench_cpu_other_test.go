//go:build !unix

package link

import "time"

func processCPU() time.Duration { return 0 }
