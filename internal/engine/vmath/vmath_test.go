package vmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestGELU(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 1003)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 4)
	}
	x[0], x[1], x[2] = 0, -100, 100
	y := append([]float32(nil), x...)
	GELU(y)
	for i, v := range x {
		want := 0.5 * float64(v) * (1 + math.Erf(float64(v)/math.Sqrt2))
		if d := math.Abs(float64(y[i]) - want); d > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("gelu(%v) = %v, want %v", v, y[i], want)
		}
	}
}

func TestSoftmax(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 7, 8, 9, 33, 256} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 10)
		}
		y := append([]float32(nil), x...)
		const scale = 0.17
		SoftmaxRows(y, n, 1, n, scale)
		m := math.Inf(-1)
		for _, v := range x {
			m = math.Max(m, float64(v))
		}
		var sum float64
		for _, v := range x {
			sum += math.Exp((float64(v) - m) * scale)
		}
		for i, v := range x {
			want := math.Exp((float64(v)-m)*scale) / sum
			if d := math.Abs(float64(y[i]) - want); d > 1e-6 {
				t.Errorf("n=%d: softmax[%d] = %v, want %v", n, i, y[i], want)
			}
		}
	}
}

func TestSwiGLU(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 8, 13, 1536} {
		gate, up := make([]float32, n), make([]float32, n)
		for i := range gate {
			gate[i], up[i] = float32(r.NormFloat64()*6), float32(r.NormFloat64())
		}
		gate[0] = -100
		got := append([]float32(nil), gate...)
		SwiGLU(got, up)
		for i, g := range gate {
			want := float64(g) / (1 + math.Exp(-float64(g))) * float64(up[i])
			if d := math.Abs(float64(got[i]) - want); d > 1e-6*math.Max(1, math.Abs(want)) {
				t.Errorf("n=%d: swiglu(%v, %v) = %v, want %v", n, g, up[i], got[i], want)
			}
		}
	}
}
