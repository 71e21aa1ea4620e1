package store

import (
	"path/filepath"

	"golang.org/x/sys/unix"
)

func fsSizes(path string) (Sizes, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(path), &st); err != nil {
		return Sizes{}, err
	}
	return Sizes{BlockSize: uint64(st.Bsize), Blocks: st.Blocks, Bfree: st.Bfree, Bavail: st.Bavail}, nil
}
