//go:build !unix

package safetensors

import (
	"io"
	"os"
)

// mapFile reads f into memory on platforms without mmap support here.
func mapFile(f *os.File) ([]byte, func() error, error) {
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return nil }, nil
}
