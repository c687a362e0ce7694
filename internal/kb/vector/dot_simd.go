//go:build goexperiment.simd && amd64

package vector

import "simd/archsimd"

// simdDot is fixed at start-up by the CPU's features; never written later.
var simdDot = archsimd.X86.AVX2() && archsimd.X86.FMA()

// dot multiplies and adds 32 floats per step in four independent
// accumulators, so that the FMA latency does not serialise the loop.
func dot(a, b []float32) float32 {
	if !simdDot || len(a) < 16 {
		return dotGo(a, b)
	}
	b = b[:len(a)]
	var s0, s1, s2, s3 archsimd.Float32x8
	i := 0
	for ; i+32 <= len(a); i += 32 {
		s0 = archsimd.LoadFloat32x8Slice(a[i:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i:]), s0)
		s1 = archsimd.LoadFloat32x8Slice(a[i+8:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i+8:]), s1)
		s2 = archsimd.LoadFloat32x8Slice(a[i+16:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i+16:]), s2)
		s3 = archsimd.LoadFloat32x8Slice(a[i+24:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i+24:]), s3)
	}
	for ; i+8 <= len(a); i += 8 {
		s0 = archsimd.LoadFloat32x8Slice(a[i:]).MulAdd(archsimd.LoadFloat32x8Slice(b[i:]), s0)
	}
	v := s0.Add(s1).Add(s2.Add(s3))
	var lanes [4]float32
	v.GetLo().Add(v.GetHi()).Store(&lanes)
	archsimd.ClearAVXUpperBits()
	s := (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
	for ; i < len(a); i++ {
		s += a[i] * b[i]
	}
	return s
}
