package llm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAttentionKernels checks the kernel set in use (SIMD with
// GOEXPERIMENT=simd) against the plain Go loops.
func TestAttentionKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, hd := range []int{8, 16, 64, 128} {
		for _, n := range []int{1, 7, 100} {
			stride := 3 * hd
			q := randVec(r, hd)
			kv := randVec(r, n*stride)
			a := attnScratch{scores: make([]float32, n), part: make([]float32, 4*n), lanes: make([]float32, 8*n)}
			got, want := make([]float32, n), make([]float32, n)
			a.qk(got, q, kv[hd:], stride, 0.5)
			scoresGo(want, q, kv[hd:], stride, 0.5)
			if d := maxAbsDiff(got, want); d > 1e-4 {
				t.Errorf("qk hd=%d n=%d: differs from Go by %g", hd, n, d)
			}
			p := randVec(r, n)
			gotO, wantO := make([]float32, hd), make([]float32, hd)
			a.weightedSum(gotO, p, kv[2*hd:], stride)
			weightedSumGo(wantO, p, kv[2*hd:], stride)
			if d := maxAbsDiff(gotO, wantO); d > 1e-4 {
				t.Errorf("weightedSum hd=%d n=%d: differs from Go by %g", hd, n, d)
			}
		}
	}
	t.Logf("attention kernels: %s", attnKernels)
}

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.Float64()*2 - 1)
	}
	return v
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}
