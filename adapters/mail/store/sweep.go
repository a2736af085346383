package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// sweepMinAge protects body files that a running writer has not yet
// committed (another process, e.g. a CLI command, may open the store).
const sweepMinAge = time.Hour

// Sweep removes body files that no index row references and that are
// older than an hour: leftovers of a crash between writing a body and
// committing its row, or of an unlink that did not happen. It returns the
// number of files removed.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	refs := map[string]bool{}
	for _, q := range []string{`SELECT blob FROM messages`, `SELECT blob FROM queue`} {
		names, err := queryStrings(ctx, s.rdb, q)
		if err != nil {
			return 0, fmt.Errorf("sweep: %w", err)
		}
		for _, n := range names {
			refs[n] = true
		}
	}
	files, err := filepath.Glob(filepath.Join(s.blobs.dir, "??", "*"))
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	removed := 0
	cutoff := time.Now().Add(-sweepMinAge)
	for _, f := range files {
		name := filepath.Base(f)
		if refs[name] || !validBlobName(name) {
			continue
		}
		if fi, err := os.Stat(f); err != nil || fi.ModTime().After(cutoff) {
			continue
		}
		if os.Remove(f) == nil {
			removed++
		}
	}
	return removed, nil
}
