package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// naive computes C = A·Wᵀ + bias in float64.
func naive(a []float32, m, k int, w []float32, n int, bias []float32) []float64 {
	c := make([]float64, m*n)
	for i := range m {
		for j := range n {
			s := 0.0
			if bias != nil {
				s = float64(bias[j])
			}
			for kk := range k {
				s += float64(a[i*k+kk]) * float64(w[j*k+kk])
			}
			c[i*n+j] = s
		}
	}
	return c
}

func TestMul(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ m, k, n int }{
		{1, 1, 1}, {6, 16, 16}, {7, 33, 20}, {13, 300, 48}, {5, 600, 17}, {24, 384, 1152}, {3, 513, 5},
	} {
		for _, useBias := range []bool{false, true} {
			t.Run(fmt.Sprintf("m%d_k%d_n%d_bias%v", tc.m, tc.k, tc.n, useBias), func(t *testing.T) {
				a := randSlice(r, tc.m*tc.k)
				w := randSlice(r, tc.n*tc.k)
				var bias []float32
				if useBias {
					bias = randSlice(r, tc.n)
				}
				want := naive(a, tc.m, tc.k, w, tc.n, bias)
				check := func(name string, c []float32) {
					t.Helper()
					for i, v := range c {
						if d := math.Abs(float64(v) - want[i]); d > 1e-4*math.Sqrt(float64(tc.k)) {
							t.Fatalf("%s: C[%d,%d] = %v, want %v", name, i/tc.n, i%tc.n, v, want[i])
						}
					}
				}
				bt := PackT(nil, w, tc.n, tc.k, tc.k)
				c := make([]float32, tc.m*tc.n)
				// Split rows and panels in two to exercise the ranges.
				mh, ph := tc.m/2, Panels(tc.n)/2
				Mul(c, tc.n, a, tc.k, bt, tc.k, tc.n, bias, 0, mh, 0, ph)
				Mul(c, tc.n, a, tc.k, bt, tc.k, tc.n, bias, mh, tc.m, 0, ph)
				Mul(c, tc.n, a, tc.k, bt, tc.k, tc.n, bias, 0, tc.m, ph, Panels(tc.n))
				check("PackT", c)

				// PackN of Wᵀ laid out k×n must give the same packing.
				wt := make([]float32, tc.k*tc.n)
				for j := range tc.n {
					for kk := range tc.k {
						wt[kk*tc.n+j] = w[j*tc.k+kk]
					}
				}
				bn := PackN(nil, wt, tc.k, tc.n, tc.n)
				c2 := make([]float32, tc.m*tc.n)
				Mul(c2, tc.n, a, tc.k, bn, tc.k, tc.n, bias, 0, tc.m, 0, Panels(tc.n))
				check("PackN", c2)
			})
		}
	}
}

func BenchmarkMul(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ m, k, n int }{{256, 384, 1152}, {256, 1536, 384}} {
		b.Run(fmt.Sprintf("m%d_k%d_n%d", tc.m, tc.k, tc.n), func(b *testing.B) {
			a := randSlice(r, tc.m*tc.k)
			bt := PackT(nil, randSlice(r, tc.n*tc.k), tc.n, tc.k, tc.k)
			c := make([]float32, tc.m*tc.n)
			for b.Loop() {
				Mul(c, tc.n, a, tc.k, bt, tc.k, tc.n, nil, 0, tc.m, 0, Panels(tc.n))
			}
			b.ReportMetric(2*float64(tc.m*tc.k*tc.n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
