//go:build linux

package memtrim

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const smapsSample = `00400000-01ec0000 r-xp 00000000 fe:00 10002591                           /srv/out crop
Size:              27392 kB
Rss:               15616 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
01ec0000-0389f000 r--p 01ac0000 fe:00 10002591                           /srv/out crop
Size:              27516 kB
Anonymous:             0 kB
0389f000-039a9000 rw-p 0349f000 fe:00 10002591                           /srv/out crop
Size:               1064 kB
Anonymous:           200 kB
039a9000-039aa000 r--p 035a9000 fe:00 10002591                           /srv/out crop
Size:                  4 kB
Anonymous:             4 kB
7f2273a9f000-7f2273bf5000 r-xp 00026000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6
Size:               1368 kB
Anonymous:             0 kB
7f222c350000-7f222c5f0000 rw-p 00000000 00:00 0 
Size:               2688 kB
Anonymous:          2092 kB
7f2273c00000-7f2273c01000 r--s 00000000 fe:00 10002591                           /srv/out crop
Anonymous:             0 kB
`

func TestReadOnlyMappings(t *testing.T) {
	got, err := readOnlyMappings(strings.NewReader(smapsSample), "/srv/out crop")
	if err != nil {
		t.Fatal(err)
	}
	want := []mapping{
		{lo: 0x400000, hi: 0x1ec0000},
		{lo: 0x1ec0000, hi: 0x389f000},
		{lo: 0x39a9000, hi: 0x39aa000, anon: 4}, // written before it was made read-only
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(mapping{})); diff != "" {
		t.Errorf("mappings (-want +got):\n%s", diff)
	}
}

func TestReadOnlyMappingsBadInput(t *testing.T) {
	for _, in := range []string{
		"zz-01 r-xp 0 fe:00 1 /x\n",
		"0400-0300 r-xp 0 fe:00 1 /x\n",
		"0400-0500 r-xp 0 fe:00 1 /x\nAnonymous: many kB\n",
	} {
		if _, err := readOnlyMappings(strings.NewReader(in), "/x"); err == nil {
			t.Errorf("readOnlyMappings(%q) = nil error, want one", in)
		}
	}
}

// exeRSS sums the resident kilobytes of the test binary's mappings.
func exeRSS(t *testing.T) int64 {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case !strings.HasSuffix(f[0], ":"):
			in = len(f) >= 6 && strings.Join(f[5:], " ") == exe
		case in && f[0] == "Rss:":
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			total += kb
		}
	}
	return total
}

// TestTrim checks that trimming lowers the resident size of the test binary
// and that the program runs on afterwards (its code faults back in).
func TestTrim(t *testing.T) {
	before := exeRSS(t)
	st, err := Trim()
	if err != nil {
		t.Fatal(err)
	}
	after := exeRSS(t)
	if st.Mappings == 0 || st.Bytes == 0 {
		t.Fatalf("Trim() = %+v, want at least one mapping trimmed", st)
	}
	if after >= before {
		t.Errorf("executable RSS %d kB after Trim, want below the %d kB before", after, before)
	}
	// Code and read-only data the test has not run since come back intact.
	if got := strconv.Quote("é\n"); got != `"é\n"` {
		t.Errorf("strconv.Quote after Trim = %s", got)
	}
	t.Logf("trimmed %d mappings (%d MiB), skipped %d; executable RSS %d → %d kB", st.Mappings, st.Bytes>>20, st.Skipped, before, after)
}
