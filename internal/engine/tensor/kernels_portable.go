//go:build !(goexperiment.simd && amd64)

package tensor

// bestKernels returns the fastest kernel set for this build and CPU. Without
// GOEXPERIMENT=simd on amd64 that is always the portable set.
func bestKernels() *kernelSet { return portableKernels() }

// avx2Kernels is nil: the AVX2 kernels need GOEXPERIMENT=simd on amd64.
func avx2Kernels() *kernelSet { return nil }
