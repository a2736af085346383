package node

import (
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// batchScheduling moves every thread of the process from SCHED_OTHER to
// SCHED_BATCH, keeping its nice value (see Config.BatchScheduling).
// Threads the runtime starts later inherit the policy from the thread
// that starts them; a second pass catches threads started during the
// first. Threads under another policy (chosen by an administrator) are
// left alone.
func batchScheduling() error {
	for range 2 {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			attr, err := unix.SchedGetAttr(tid, 0)
			if err != nil || attr.Policy != unix.SCHED_NORMAL {
				continue // exited meanwhile, or not ours to change
			}
			attr.Policy = unix.SCHED_BATCH
			attr.Flags &= unix.SCHED_FLAG_RESET_ON_FORK
			if err := unix.SchedSetAttr(tid, attr, 0); err != nil && !errors.Is(err, unix.ESRCH) {
				return err
			}
		}
	}
	return nil
}
