package vector

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDot checks Dot (eight lanes at a time when built with
// GOEXPERIMENT=simd) against a float64 sum over lengths that cover every
// tail: below one register, between the 8- and 32-float steps, and the
// embedding sizes in use.
func TestDot(t *testing.T) {
	if !simdDot {
		t.Log("the AVX2+FMA dot product is not in this build or not supported here: only the portable loop is checked")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 63, 64, 65, 100, 384, 385, 768, 1024, 1536} {
		a, b := make([]float32, n), make([]float32, n+3)
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		var want, mag float64
		for i := range a {
			want += float64(a[i]) * float64(b[i])
			mag += math.Abs(float64(a[i]) * float64(b[i]))
		}
		tol := 1e-5 * (mag + 1)
		if got := Dot(a, b); math.Abs(float64(got)-want) > tol {
			t.Errorf("Dot, n=%d: got %v, want %v (±%g)", n, got, want, tol)
		}
		if got := Dot(b, a); math.Abs(float64(got)-want) > tol {
			t.Errorf("Dot with the longer vector first, n=%d: got %v, want %v (±%g)", n, got, want, tol)
		}
		if got := dotGo(a, b[:n]); math.Abs(float64(got)-want) > tol {
			t.Errorf("dotGo, n=%d: got %v, want %v (±%g)", n, got, want, tol)
		}
	}
}

// BenchmarkScan scores one query against 10,000 stored 384-dimensional
// vectors (15 MB, more than the last-level cache), with Dot and with the
// portable loop, so that one run gives their ratio:
//
//	GOEXPERIMENT=simd go test -run '^$' -bench Scan ./internal/kb/vector/
func BenchmarkScan(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	vecs := unitVectors(rng, 10000, 384, 100)
	q := vecs[0]
	for _, c := range []struct {
		name string
		dot  func(a, b []float32) float32
	}{{"Dot", Dot}, {"portable", dotGo}} {
		b.Run(c.name, func(b *testing.B) {
			var sink float32
			for b.Loop() {
				for _, v := range vecs {
					sink += c.dot(q, v)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(vecs)), "ns/vector")
			_ = sink
		})
	}
}
