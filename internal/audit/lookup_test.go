package audit_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/audit"
)

// TestLookupEventsPages pages through a trail with LookupEvents: page
// boundaries, the last page without a token, an empty trail, and a digest
// line (which is not an event) between records.
func TestLookupEventsPages(t *testing.T) {
	dir := t.TempDir()
	if p, err := audit.LookupEvents(dir, audit.Query{}); err != nil || len(p.Events) != 0 || p.NextToken != "" {
		t.Fatalf("LookupEvents(empty trail) = %+v, %v", p, err)
	}
	clk := &clock{t: t0}
	tr, err := audit.Open(audit.Options{Dir: dir, AccountID: "000000000000", Now: clk.Now, DigestEvery: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		tr.Record(call(i, "Converse"))
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	pages := func(max int) [][]string {
		var out [][]string
		q := audit.Query{Max: max}
		for {
			p, err := audit.LookupEvents(dir, q)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range p.Events {
				ids = append(ids, e.RequestID)
			}
			out = append(out, ids)
			if p.NextToken == "" {
				return out
			}
			q.NextToken = p.NextToken
		}
	}
	for _, tc := range []struct {
		max  int
		want [][]string
	}{
		{7, [][]string{{"req-6", "req-5", "req-4", "req-3", "req-2", "req-1", "req-0"}}},
		{0, [][]string{{"req-6", "req-5", "req-4", "req-3", "req-2", "req-1", "req-0"}}},
		{3, [][]string{{"req-6", "req-5", "req-4"}, {"req-3", "req-2", "req-1"}, {"req-0"}}},
		{1, [][]string{{"req-6"}, {"req-5"}, {"req-4"}, {"req-3"}, {"req-2"}, {"req-1"}, {"req-0"}}},
	} {
		if diff := cmp.Diff(tc.want, pages(tc.max)); diff != "" {
			t.Errorf("pages of %d (-want +got):\n%s", tc.max, diff)
		}
	}
	for _, tc := range []struct {
		name string
		q    audit.Query
		want error
	}{
		{"two attributes", audit.Query{Attributes: []audit.Attribute{{"EventName", "Converse"}, {"Username", "alice"}}}, audit.ErrLookupAttributes},
		{"max 51", audit.Query{Max: 51}, audit.ErrMaxResults},
		{"range", audit.Query{Start: t0, End: t0.Add(-1)}, audit.ErrTimeRange},
		{"token", audit.Query{NextToken: "1.e30"}, audit.ErrNextToken},
	} {
		if _, err := audit.LookupEvents(dir, tc.q); !errors.Is(err, tc.want) {
			t.Errorf("LookupEvents(%s) = %v, want %v", tc.name, err, tc.want)
		}
	}
}
