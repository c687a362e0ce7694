//go:build goexperiment.simd && amd64

package llm

import "simd/archsimd"

// attnSIMD is fixed at start-up by the CPU's features; never written later.
var attnSIMD = archsimd.X86.AVX2() && archsimd.X86.FMA()

// attnKernels names the attention kernel set.
const attnKernels = "avx2"

// The vector loops below run no scalar float code: Go compiles scalar
// float arithmetic to legacy SSE instructions, and mixing those with dirty
// upper AVX state is very slow (see internal/engine/tensor). Scalar work
// happens in separate passes, after ClearAVXUpperBits.

func (a *attnScratch) qk(sc, q, k []float32, stride int, scale float32) {
	hd := len(q)
	if !attnSIMD || hd%16 != 0 {
		scoresGo(sc, q, k, stride, scale)
		return
	}
	n := len(sc)
	part := a.part[:4*n]
	for t := 0; t < n; t++ {
		kt := k[t*stride : t*stride+hd]
		var a0, a1 archsimd.Float32x8
		for i := 0; i < hd; i += 16 {
			a0 = archsimd.LoadFloat32x8Slice(q[i:]).MulAdd(archsimd.LoadFloat32x8Slice(kt[i:]), a0)
			a1 = archsimd.LoadFloat32x8Slice(q[i+8:]).MulAdd(archsimd.LoadFloat32x8Slice(kt[i+8:]), a1)
		}
		s := a0.Add(a1)
		s.GetLo().Add(s.GetHi()).StoreSlice(part[4*t:])
	}
	archsimd.ClearAVXUpperBits()
	for t := range sc {
		p := part[4*t : 4*t+4]
		sc[t] = ((p[0] + p[1]) + (p[2] + p[3])) * scale
	}
}

func (a *attnScratch) weightedSum(out, p, v []float32, stride int) {
	hd := len(out)
	if !attnSIMD || hd%8 != 0 || hd > 256 {
		weightedSumGo(out, p, v, stride)
		return
	}
	n := len(p)
	lanes := a.lanes[:8*n]
	for t, w := range p {
		l := lanes[8*t : 8*t+8]
		l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7] = w, w, w, w, w, w, w, w
	}
	var acc [32]archsimd.Float32x8 // hd ≤ 256
	blocks := hd / 8
	for t := 0; t < n; t++ {
		w := archsimd.LoadFloat32x8Slice(lanes[8*t:])
		vt := v[t*stride : t*stride+hd]
		for b := 0; b < blocks; b++ {
			acc[b] = archsimd.LoadFloat32x8Slice(vt[8*b:]).MulAdd(w, acc[b])
		}
	}
	for b := 0; b < blocks; b++ {
		acc[b].StoreSlice(out[8*b:])
	}
	archsimd.ClearAVXUpperBits()
}
