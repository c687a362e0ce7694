package dialect

import (
	"net/http/httptest"
	"testing"
)

// TestSSEBatch checks that events written inside a burst stay buffered
// and the first event after it flushes them all.
func TestSSEBatch(t *testing.T) {
	rec := httptest.NewRecorder()
	s := NewSSE(rec)
	s.Batch(true)
	for _, v := range []string{"a", "b"} {
		if err := s.Event("", v); err != nil {
			t.Fatal(err)
		}
	}
	if rec.Flushed {
		t.Fatal("flushed inside a burst")
	}
	s.Batch(false)
	if err := s.Event("", "c"); err != nil {
		t.Fatal(err)
	}
	if !rec.Flushed {
		t.Fatal("not flushed after the burst")
	}
	if got, want := rec.Body.String(), "data: a\n\ndata: b\n\ndata: c\n\n"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
}
