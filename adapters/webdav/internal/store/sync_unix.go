//go:build unix && !linux && !darwin

package store

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// canSyncDirs: fsync of a directory makes its entries durable.
const canSyncDirs = true

// startWriteback does nothing: these systems have no portable way to
// start write-back of a range without waiting for it, so the final
// syncFile does all the work.
func startWriteback(*os.File, int64, int64) {}

// syncFile makes f durable with fsync(2), retried on EINTR.
func syncFile(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = unix.Fsync(int(fd))
			if !errors.Is(serr, unix.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fsync", Path: f.Name(), Err: serr}
	}
	return nil
}
