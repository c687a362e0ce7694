//go:build !(goexperiment.simd && amd64)

package vector

func dot(a, b []float32) float32 { return dotGo(a, b) }

// simdDot is false: this build has no AVX2 dot product.
const simdDot = false
