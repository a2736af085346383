package node

import (
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestBatchScheduling: afterwards no thread of the process is left under
// the default policy.
func TestBatchScheduling(t *testing.T) {
	if err := batchScheduling(); err != nil {
		t.Skipf("sched_setattr refused here: %v", err)
	}
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		attr, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			continue // exited
		}
		if attr.Policy == unix.SCHED_NORMAL {
			t.Errorf("thread %d still under SCHED_OTHER", tid)
		}
	}
}
