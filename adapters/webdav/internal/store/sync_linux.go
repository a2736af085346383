package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// canSyncDirs: fsync of a directory makes its entries durable.
const canSyncDirs = true

// startWriteback starts write-back of n bytes at off with
// sync_file_range, without waiting for it. Best effort: a failure only
// means the final fsync does all the work.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}

// syncFile makes f's data and metadata durable: fsync, which on Linux
// also flushes the drive's write cache.
func syncFile(f *os.File) error { return f.Sync() }
