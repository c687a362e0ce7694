//go:build !(goexperiment.simd && amd64)

package bert

// geluInPlace applies GELU (the exact erf form) to every element of x.
func geluInPlace(x []float32) { geluGo(x) }

// softmaxRows replaces each of the rows of x (row stride ld, n live
// values) by softmax(scale·row).
func softmaxRows(x []float32, ld, rows, n int, scale float32) {
	for r := range rows {
		softmaxGo(x[r*ld:r*ld+n], scale)
	}
}
