package store

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// canSyncDirs: fsync of a directory makes its entries durable.
const canSyncDirs = true

// startWriteback does nothing: darwin has no way to start write-back of
// a range without waiting for it, so the final syncFile does all the
// work.
func startWriteback(*os.File, int64, int64) {}

// syncFile makes f durable. On darwin fsync(2) only hands the data to
// the drive, which may keep it in its volatile cache; fcntl F_FULLFSYNC
// asks the drive to flush it to permanent storage. Some file systems
// refuse F_FULLFSYNC (ENOTSUP on SMB, EINVAL on macFUSE, ENOTTY on some
// external devices); like SQLite, fall back to plain fsync on any error.
func syncFile(f *os.File) error {
	return syncWith(f, func(fd int) error {
		if fullFsync(fd) != nil {
			return fsync(fd)
		}
		return nil
	})
}

func fullFsync(fd int) error {
	for {
		_, err := unix.FcntlInt(uintptr(fd), unix.F_FULLFSYNC, 0)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
