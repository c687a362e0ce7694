package dialect

import (
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// flushes records the body's length at each Flush.
type flushes struct {
	*httptest.ResponseRecorder
	at []int
}

func (f *flushes) Flush() {
	f.at = append(f.at, f.Body.Len())
	f.ResponseRecorder.Flush()
}

// TestSSEBatch checks that the first event flushes at once, that events
// written inside a burst after it stay buffered, and that the first event
// after the burst flushes them all.
func TestSSEBatch(t *testing.T) {
	rec := &flushes{ResponseRecorder: httptest.NewRecorder()}
	s := NewSSE(rec)
	s.Batch(true)
	for _, v := range []string{"a", "b", "c"} {
		if err := s.Event("", v); err != nil {
			t.Fatal(err)
		}
	}
	s.Batch(false)
	if err := s.Event("", "d"); err != nil {
		t.Fatal(err)
	}
	event := len("data: a\n\n")
	if diff := cmp.Diff([]int{event, 4 * event}, rec.at); diff != "" {
		t.Errorf("body length at each flush (-want +got):\n%s", diff)
	}
	if got, want := rec.Body.String(), "data: a\n\ndata: b\n\ndata: c\n\ndata: d\n\n"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
}
