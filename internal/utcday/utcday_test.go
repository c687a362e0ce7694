package utcday_test

import (
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/utcday"
)

// TestOf names days in an order that crosses midnight, goes back in time,
// changes zone and leaves four-digit years, and compares each name with
// formatting the time.
func TestOf(t *testing.T) {
	var d utcday.Namer
	for _, now := range []time.Time{
		time.Date(2026, 5, 4, 23, 59, 59, 0, time.UTC),
		time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 5, 5, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 5, 5, 1, 0, 0, 0, time.FixedZone("x", 2*3600)), // still the 4th in UTC
		time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(26, 1, 2, 0, 0, 0, 0, time.UTC),
		time.Date(12026, 5, 4, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC),
	} {
		if got, want := d.Of(now), now.UTC().Format(time.DateOnly); got != want {
			t.Errorf("Of(%v) = %q, want %q", now, got, want)
		}
	}
}
