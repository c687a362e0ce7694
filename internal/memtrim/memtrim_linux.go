//go:build linux

package memtrim

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Trim removes the executable's read-only, file-backed mappings from the
// resident set with madvise(MADV_DONTNEED). A mapping that holds any
// anonymous (copied-on-write) page, such as a RELRO segment the dynamic
// linker wrote before making it read-only, is skipped: dropping it would
// bring back the file's unrelocated bytes. Writable mappings are never
// touched.
func Trim() (Stats, error) {
	exe, err := os.Executable()
	if err != nil {
		return Stats{}, fmt.Errorf("memtrim: %w", err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return Stats{}, fmt.Errorf("memtrim: %w", err)
	}
	ms, err := readOnlyMappings(bytes.NewReader(smaps), exe)
	if err != nil {
		return Stats{}, fmt.Errorf("memtrim: %w", err)
	}
	var st Stats
	for _, m := range ms {
		if m.anon > 0 {
			st.Skipped++
			continue
		}
		if err := madvise(m.lo, m.hi); err != nil {
			return st, fmt.Errorf("memtrim: madvise %#x-%#x: %w", m.lo, m.hi, err)
		}
		st.Mappings++
		st.Bytes += int64(m.hi - m.lo)
	}
	return st, nil
}

// mapping is one line of /proc/self/smaps with its Anonymous total.
type mapping struct {
	lo, hi uintptr
	anon   int64 // kB
}

// readOnlyMappings returns the mappings of path in an smaps listing that are
// neither writable nor shared.
func readOnlyMappings(r io.Reader, path string) ([]mapping, error) {
	var out []mapping
	cur := -1 // index in out of the mapping whose fields follow, or -1
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if strings.HasSuffix(fields[0], ":") {
			if cur >= 0 && fields[0] == "Anonymous:" && len(fields) >= 2 {
				kb, err := strconv.ParseInt(fields[1], 10, 64)
				if err != nil {
					return nil, fmt.Errorf("smaps: %q: %w", line, err)
				}
				out[cur].anon = kb
			}
			continue
		}
		cur = -1
		// A header: address perms offset dev inode [path]. The path may
		// contain spaces, so it is everything after the fifth field.
		if len(fields) < 6 || fields[1] != "r--p" && fields[1] != "r-xp" {
			continue
		}
		if name := strings.Join(fields[5:], " "); name != path {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			return nil, fmt.Errorf("smaps: bad address range %q", fields[0])
		}
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || b <= a {
			return nil, fmt.Errorf("smaps: bad address range %q", fields[0])
		}
		out = append(out, mapping{lo: uintptr(a), hi: uintptr(b)})
		cur = len(out) - 1
	}
	return out, sc.Err()
}

func madvise(lo, hi uintptr) error {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, lo, hi-lo, unix.MADV_DONTNEED)
	if errno != 0 {
		return errno
	}
	return nil
}
