package vector

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTop(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, k := range []int{0, 1, 5, 50} {
		var all []Scored
		top := NewTop(k)
		for i := range 500 {
			s := float32(rng.IntN(40)) // many ties
			top.Push(int32(i), s)
			all = append(all, Scored{ID: int64(i), Score: float64(s)})
		}
		var want, got []Scored
		want = TopK(all, k)
		for _, h := range top.Sorted() {
			got = append(got, Scored{ID: int64(h.Row), Score: float64(h.Score)})
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []Scored) bool { return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b) })); diff != "" {
			t.Errorf("Top(%d) (-TopK +Top):\n%s", k, diff)
		}
	}
}

// TestIVFAddRemove checks the list bookkeeping: every row is found by a
// search probing every list, removed rows never are, and re-adding moves
// a row instead of duplicating it.
func TestIVFAddRemove(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	vecs := make([][]float32, 400)
	for i := range vecs {
		v := make([]float32, 16)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		Normalize(v)
		vecs[i] = v
	}
	get := func(r int32) []float32 { return vecs[r] }
	var rows []int32
	for i := range 300 {
		rows = append(rows, int32(i))
	}
	x, _ := BuildIVF(context.Background(), 16, 17, rows, get)
	for i := 300; i < 400; i++ {
		x.Add(int32(i), vecs[i])
	}
	x.Add(5, vecs[5]) // again
	for i := 0; i < 400; i += 3 {
		x.Remove(int32(i))
	}
	x.Remove(0) // again
	hits, scanned := x.Search(vecs[1], 400, x.Lists(), get, nil)
	want := 400 - (400+2)/3
	if x.Len() != want || len(hits) != want || scanned != want {
		t.Fatalf("Len %d, %d hits, %d scanned; want %d", x.Len(), len(hits), scanned, want)
	}
	seen := map[int32]bool{}
	for _, h := range hits {
		if h.Row%3 == 0 || seen[h.Row] {
			t.Errorf("row %d returned (removed or duplicate)", h.Row)
		}
		seen[h.Row] = true
	}
	if hits[0].Row != 1 {
		t.Errorf("best hit for row 1's vector is row %d", hits[0].Row)
	}
}
