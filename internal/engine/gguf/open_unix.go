//go:build unix

package gguf

import (
	"fmt"
	"os"
	"syscall"
)

// Open maps the file at path read-only and parses it. The caller must Close
// the File; tensor data is valid until then.
func Open(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open gguf: %w", err)
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("open gguf: %w", err)
	}
	size := st.Size()
	if size <= 0 || int64(int(size)) != size {
		return nil, fmt.Errorf("open gguf %s: %w: file size %d", path, ErrFormat, size)
	}
	data, err := syscall.Mmap(int(fd.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("open gguf %s: mmap: %w", path, err)
	}
	f, err := Parse(data)
	if err != nil {
		_ = syscall.Munmap(data)
		return nil, fmt.Errorf("open gguf %s: %w", path, err)
	}
	f.unmap = func() error { return syscall.Munmap(data) }
	return f, nil
}
