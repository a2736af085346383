//go:build unix && !linux && !darwin

package store

import "os"

// canSyncDirs: fsync of a directory makes its entries durable.
const canSyncDirs = true

// startWriteback does nothing: these systems have no portable way to
// start write-back of a range without waiting for it, so the final
// syncFile does all the work.
func startWriteback(*os.File, int64, int64) {}

// syncFile makes f durable with fsync(2).
func syncFile(f *os.File) error { return syncWith(f, fsync) }
