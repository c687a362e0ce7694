//go:build goexperiment.simd && amd64

package gemm

import (
	"simd/archsimd"
	"unsafe"
)

// fast is fixed at start-up by the CPU's features; it is never written
// afterwards.
var fast = archsimd.X86.AVX2() && archsimd.X86.FMA()

// Accelerated reports whether Mul uses a SIMD kernel.
func Accelerated() bool { return fast }

// kernel dispatches to the AVX2 kernels. Mul has checked every bound, so
// the kernels index with unsafe pointer arithmetic.
func kernel(r, kb int, a []float32, lda int, b []float32, c []float32, ldc int, bias []float32, acc bool) {
	if !fast {
		kernelGo(r, kb, a, lda, b, c, ldc, bias, acc)
		return
	}
	_ = a[(r-1)*lda+kb-1]
	_ = b[kb*Panel-1]
	_ = c[(r-1)*ldc+Panel-1]
	var pbias unsafe.Pointer
	if bias != nil {
		_ = bias[Panel-1]
		pbias = unsafe.Pointer(&bias[0])
	}
	pa, pb, pc := unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), unsafe.Pointer(&c[0])
	if r == rows {
		kern4(kb, pa, lda, pb, pc, ldc, pbias, acc)
		return
	}
	for i := range r {
		kern1(kb, unsafe.Add(pa, 4*i*lda), pb, unsafe.Add(pc, 4*i*ldc), pbias, acc)
	}
}

func ld(p unsafe.Pointer, off int) archsimd.Float32x8 {
	return archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 4*off)))
}

func st(v archsimd.Float32x8, p unsafe.Pointer, off int) {
	v.Store((*[8]float32)(unsafe.Add(p, 4*off)))
}

func bc(p unsafe.Pointer, off int) archsimd.Float32x8 {
	return archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(p, 4*off)))
}

// kern1 computes one row of 16 C values.
func kern1(kb int, pa, pb, pc, pbias unsafe.Pointer, acc bool) {
	var c0, c1, d0, d1 archsimd.Float32x8
	switch {
	case acc:
		c0, c1 = ld(pc, 0), ld(pc, 8)
	case pbias != nil:
		c0, c1 = ld(pbias, 0), ld(pbias, 8)
	}
	k := 0
	for ; k+1 < kb; k += 2 {
		x := bc(pa, k)
		c0 = x.MulAdd(ld(pb, 16*k), c0)
		c1 = x.MulAdd(ld(pb, 16*k+8), c1)
		y := bc(pa, k+1)
		d0 = y.MulAdd(ld(pb, 16*k+16), d0)
		d1 = y.MulAdd(ld(pb, 16*k+24), d1)
	}
	if k < kb {
		x := bc(pa, k)
		c0 = x.MulAdd(ld(pb, 16*k), c0)
		c1 = x.MulAdd(ld(pb, 16*k+8), c1)
	}
	st(c0.Add(d0), pc, 0)
	st(c1.Add(d1), pc, 8)
}

// kern4 computes a 4×16 block of C with eight accumulators.
func kern4(kb int, pa unsafe.Pointer, lda int, pb, pc unsafe.Pointer, ldc int, pbias unsafe.Pointer, acc bool) {
	var c00, c01, c10, c11, c20, c21, c30, c31 archsimd.Float32x8
	switch {
	case acc:
		c00, c01 = ld(pc, 0), ld(pc, 8)
		c10, c11 = ld(pc, ldc), ld(pc, ldc+8)
		c20, c21 = ld(pc, 2*ldc), ld(pc, 2*ldc+8)
		c30, c31 = ld(pc, 3*ldc), ld(pc, 3*ldc+8)
	case pbias != nil:
		c00, c01 = ld(pbias, 0), ld(pbias, 8)
		c10, c11, c20, c21, c30, c31 = c00, c01, c00, c01, c00, c01
	}
	a0 := pa
	a1 := unsafe.Add(pa, 4*lda)
	a2 := unsafe.Add(pa, 8*lda)
	a3 := unsafe.Add(pa, 12*lda)
	for k := range kb {
		b0 := ld(pb, 16*k)
		b1 := ld(pb, 16*k+8)
		x := bc(a0, k)
		c00 = x.MulAdd(b0, c00)
		c01 = x.MulAdd(b1, c01)
		x = bc(a1, k)
		c10 = x.MulAdd(b0, c10)
		c11 = x.MulAdd(b1, c11)
		x = bc(a2, k)
		c20 = x.MulAdd(b0, c20)
		c21 = x.MulAdd(b1, c21)
		x = bc(a3, k)
		c30 = x.MulAdd(b0, c30)
		c31 = x.MulAdd(b1, c31)
	}
	st(c00, pc, 0)
	st(c01, pc, 8)
	st(c10, pc, ldc)
	st(c11, pc, ldc+8)
	st(c20, pc, 2*ldc)
	st(c21, pc, 2*ldc+8)
	st(c30, pc, 3*ldc)
	st(c31, pc, 3*ldc+8)
}
