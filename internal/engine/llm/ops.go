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

// dot returns Σ a[i]·b[i]; len(b) ≥ len(a).
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy sets y[i] += a·x[i]; len(x) ≥ len(y).
func axpy(y, x []float32, a float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] += a * v
	}
}
