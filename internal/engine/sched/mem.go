package sched

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// MemAvailable returns the kernel's estimate of memory available to new
// work without swapping (MemAvailable in /proc/meminfo), in bytes.
func MemAvailable() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("read meminfo: %w", err)
	}
	return parseMemAvailable(b)
}

func parseMemAvailable(b []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("MemAvailable:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("meminfo: bad MemAvailable %q", rest)
		}
		if len(f) > 1 && string(f[1]) == "kB" {
			n *= 1024
		}
		return n, nil
	}
	return 0, ErrNoMemInfo
}

// Bytes formats a byte count for people: 1.5 GiB, 180.0 MiB, 512 B.
type Bytes int64

// String renders b with a binary unit.
func (b Bytes) String() string {
	const unit = 1024
	if b < unit && b > -unit {
		return fmt.Sprintf("%d B", int64(b))
	}
	v := float64(b)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v /= unit
		if v < unit && v > -unit {
			return fmt.Sprintf("%.1f %s", v, u)
		}
	}
	return fmt.Sprintf("%.1f PiB", v/unit)
}
