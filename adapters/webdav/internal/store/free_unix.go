//go:build linux || darwin || freebsd

package store

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Free returns the bytes available to the server on the volume's file
// system: statfs free blocks for unprivileged users times the block
// size (the field types differ between Linux and darwin).
func (v *Volume) Free() (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(v.dir, &st); err != nil {
		return 0, fmt.Errorf("store: statfs %s: %w", v.id, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
