package store

import "os"

// canSyncDirs: Windows cannot flush a directory opened for reading
// (FlushFileBuffers needs write access), so directory entries are left
// to NTFS's metadata journal.
const canSyncDirs = false

// startWriteback does nothing: Windows has no way to start write-back of
// a range without waiting for it, so the final syncFile does all the
// work.
func startWriteback(*os.File, int64, int64) {}

// syncFile makes f durable: FlushFileBuffers, which also flushes the
// drive's write cache.
func syncFile(f *os.File) error { return f.Sync() }
