package llm

import "math"

// rmsNormRows writes each dim-long row of x, RMS-normalised and scaled by
// w, to dst.
func rmsNormRows(dst, x, w []float32, dim int, eps float32) {
	for r := 0; r+dim <= len(x); r += dim {
		row, out := x[r:r+dim], dst[r:r+dim]
		var ss float64
		for _, v := range row {
			ss += float64(v) * float64(v)
		}
		inv := float32(1 / math.Sqrt(ss/float64(dim)+float64(eps)))
		for i, v := range row {
			out[i] = v * inv * w[i]
		}
	}
}

// addBiasRows adds b to every len(b)-long row of x; nil b is a no-op.
func addBiasRows(x, b []float32) {
	if b == nil {
		return
	}
	for r := 0; r+len(b) <= len(x); r += len(b) {
		row := x[r : r+len(b)]
		for i, v := range b {
			row[i] += v
		}
	}
}

// addInto adds src to dst element-wise.
func addInto(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}
