// Package vmath holds the engine's element-wise activation functions —
// GELU, softmax, SwiGLU — with AVX2 versions (GOEXPERIMENT=simd on amd64)
// and portable fallbacks. The vector versions compute e^x with a
// polynomial (relative error about 1.2e-7) instead of math.Exp.
package vmath

import "math"

// geluGo is the portable GELU: x·Φ(x) with Φ from math.Erf.
func geluGo(x []float32) {
	for i, v := range x {
		x[i] = float32(0.5 * float64(v) * (1 + math.Erf(float64(v)/math.Sqrt2)))
	}
}

// softmaxGo is the portable softmax of scale·x.
func softmaxGo(x []float32, scale float32) {
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	var sum float32
	for i, v := range x {
		e := float32(math.Exp(float64((v - m) * scale)))
		x[i] = e
		sum += e
	}
	inv := 1 / sum
	for i := range x {
		x[i] *= inv
	}
}

// swigluGo is the portable SwiGLU: gate[i] = silu(gate[i])·up[i].
func swigluGo(gate, up []float32) {
	up = up[:len(gate)]
	for i, g := range gate {
		gate[i] = g / (1 + float32(math.Exp(float64(-g)))) * up[i]
	}
}
