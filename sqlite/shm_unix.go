//go:build unix

package sqlite

import (
	"fmt"
	"os"
	"syscall"
)

// mapShm maps the start of a WAL database's shared-memory file (the
// wal-index, whose header every commit rewrites) read-only.
func mapShm(path string) (mem []byte, unmap func() error, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close() // the mapping outlives the descriptor
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() < walIndexHeaderSize {
		return nil, nil, fmt.Errorf("%s holds no wal-index yet", path)
	}
	mem, err = syscall.Mmap(int(f.Fd()), 0, walIndexHeaderSize, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("map %s: %w", path, err)
	}
	return mem, func() error { return syscall.Munmap(mem) }, nil
}
