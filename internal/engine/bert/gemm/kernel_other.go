//go:build !(goexperiment.simd && amd64)

package gemm

// kernel is the portable kernel on builds without the SIMD experiment.
func kernel(r, kb int, a []float32, lda int, b []float32, c []float32, ldc int, bias []float32, acc bool) {
	kernelGo(r, kb, a, lda, b, c, ldc, bias, acc)
}

// Accelerated reports whether Mul uses a SIMD kernel.
func Accelerated() bool { return false }
