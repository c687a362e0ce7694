//go:build !(goexperiment.simd && amd64)

package vmath

// GELU applies GELU (the exact erf form) to every element of x.
func GELU(x []float32) { geluGo(x) }

// SoftmaxRows replaces each of the rows of x (row stride ld, n live
// values) by softmax(scale·row).
func SoftmaxRows(x []float32, ld, rows, n int, scale float32) {
	for r := range rows {
		softmaxGo(x[r*ld:r*ld+n], scale)
	}
}

// SwiGLU sets gate[i] = silu(gate[i])·up[i]; len(up) ≥ len(gate).
func SwiGLU(gate, up []float32) { swigluGo(gate, up) }
