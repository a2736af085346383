package node

import (
	"errors"
	"fmt"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/router"
)

// OverlayMTU is the MTU every node assumes (spec §6.2).
const OverlayMTU = 1400

// Config configures a Node. Start from Default and set Key.
type Config struct {
	// Key is the node's key pair; it decides the node's address and /64.
	Key *identity.KeyPair
	// Router holds the routing timers.
	Router router.Config
	// MTU is the largest IPv6 packet the node sends into the overlay;
	// bigger packets from the device get an ICMPv6 Packet Too Big.
	MTU int
	// QueuePerSubnet and QueueTotal bound the locally originated and
	// transit packets waiting for a route (spec §4.14: 10,000 and
	// 1,000,000 in the reference); QueueBytes bounds their total size.
	QueuePerSubnet int
	QueueTotal     int
	QueueBytes     int
	// ParkPerSubnet and ParkTotal bound received packets waiting for their
	// sender's key (spec §5.4: 100 and 10,000); ParkBytes bounds their size.
	ParkPerSubnet int
	ParkTotal     int
	ParkBytes     int
	// StatsLimit bounds how many distinct addresses the per-source and
	// per-destination packet statistics track each (the reference's are
	// unbounded).
	StatsLimit int
	// BatchScheduling, on Linux, makes Start switch every thread of the
	// process from the default policy to SCHED_BATCH (nice values are
	// kept). A thread that wakes up then no longer preempts the one
	// running: a node that writes to a link or the device keeps its CPU
	// until it blocks instead of being switched out the moment the reader
	// on the other end (another node, the local TCP) wakes up. With all
	// nodes of a 2- or 3-node line on one 2-core machine that measured
	// ~20 % more single-stream throughput (bench/). Idle latency is not
	// affected (a waking thread still gets an idle CPU at once); under
	// load a woken thread may wait for the running one's time slice.
	// The setting is process-wide (and inherited by child processes), so
	// it is off by default for programs that embed a node; the mycelium
	// daemon turns it on (config key batch_scheduling).
	BatchScheduling bool
}

// Default returns the default configuration without a key.
func Default() Config {
	return Config{
		Router:         router.Default(),
		MTU:            OverlayMTU,
		QueuePerSubnet: 1000,
		QueueTotal:     10_000,
		QueueBytes:     16 << 20,
		ParkPerSubnet:  100,
		ParkTotal:      10_000,
		ParkBytes:      16 << 20,
		StatsLimit:     4096,
	}
}

// ErrConfig is wrapped by every validation error.
var ErrConfig = errors.New("node: invalid config")

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Key == nil {
		return fmt.Errorf("%w: no key pair", ErrConfig)
	}
	if err := c.Router.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.MTU < minMTU || c.MTU > 65535-headroom-tailroom {
		return fmt.Errorf("%w: MTU %d outside %d..%d", ErrConfig, c.MTU, minMTU, 65535-headroom-tailroom)
	}
	for _, v := range []struct {
		name string
		n    int
	}{
		{"QueuePerSubnet", c.QueuePerSubnet}, {"QueueTotal", c.QueueTotal}, {"QueueBytes", c.QueueBytes},
		{"ParkPerSubnet", c.ParkPerSubnet}, {"ParkTotal", c.ParkTotal}, {"ParkBytes", c.ParkBytes},
		{"StatsLimit", c.StatsLimit},
	} {
		if v.n < 1 {
			return fmt.Errorf("%w: %s must be at least 1", ErrConfig, v.name)
		}
	}
	return nil
}
