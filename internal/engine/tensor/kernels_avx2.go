//go:build goexperiment.simd && amd64

package tensor

import "simd/archsimd"

// bestKernels returns the AVX2 kernel set when the CPU supports AVX2 and
// FMA, else the portable set.
func bestKernels() *kernelSet {
	if !archsimd.X86.AVX2() || !archsimd.X86.FMA() {
		return portableKernels()
	}
	k := portableKernels()
	k.name = "avx2"
	k.dotF32 = dotF32AVX2
	return k
}

func dotF32AVX2(w, x []float32) float32 {
	var a0, a1 archsimd.Float32x8
	i := 0
	for ; i+16 <= len(w); i += 16 {
		a0 = archsimd.LoadFloat32x8Slice(w[i:]).MulAdd(archsimd.LoadFloat32x8Slice(x[i:]), a0)
		a1 = archsimd.LoadFloat32x8Slice(w[i+8:]).MulAdd(archsimd.LoadFloat32x8Slice(x[i+8:]), a1)
	}
	for ; i+8 <= len(w); i += 8 {
		a0 = archsimd.LoadFloat32x8Slice(w[i:]).MulAdd(archsimd.LoadFloat32x8Slice(x[i:]), a0)
	}
	s := hsum(a0.Add(a1))
	for ; i < len(w); i++ {
		s += w[i] * x[i]
	}
	return s
}

// hsum adds the eight lanes of v.
func hsum(v archsimd.Float32x8) float32 {
	q := v.GetLo().Add(v.GetHi())
	var b [4]float32
	q.Store(&b)
	return (b[0] + b[1]) + (b[2] + b[3])
}
