package store

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// Free returns the bytes available to the server on the volume's file
// system: GetDiskFreeSpaceEx's count for the calling user, which honours
// disk quotas.
func (v *Volume) Free() (int64, error) {
	dir, err := windows.UTF16PtrFromString(v.dir)
	if err != nil {
		return 0, fmt.Errorf("store: free space %s: %w", v.id, err)
	}
	var avail, total, free uint64
	if err := windows.GetDiskFreeSpaceEx(dir, &avail, &total, &free); err != nil {
		return 0, fmt.Errorf("store: free space %s: %w", v.id, err)
	}
	return int64(min(avail, 1<<63-1)), nil
}
