//go:build goexperiment.simd && amd64

package vmath

import (
	"math"
	"simd/archsimd"
	"unsafe"
)

// simdAct is fixed at start-up by the CPU's features; never written later.
var simdAct = archsimd.X86.AVX2() && archsimd.X86.FMA()

func splat(v float32) archsimd.Float32x8 { return archsimd.BroadcastFloat32x8(v) }

func load8(x []float32, i int) archsimd.Float32x8 {
	return archsimd.LoadFloat32x8((*[8]float32)(unsafe.Pointer(&x[i])))
}

func store8(v archsimd.Float32x8, x []float32, i int) {
	v.Store((*[8]float32)(unsafe.Pointer(&x[i])))
}

// vconst holds the broadcast constants of exp8 and gelu8. Broadcasting a
// scalar is several instructions with archsimd, so callers build one vconst
// per slice and the kernels load from it.
type vconst struct {
	lo, hi, log2e, ln2hi, ln2lo         archsimd.Float32x8
	e6, e5, e4, e3, e2, one, zero, half archsimd.Float32x8
	bias                                archsimd.Int32x8
	rsqrt2, p, a5, a4, a3, a2, a1       archsimd.Float32x8
}

func newVconst() vconst {
	return vconst{
		lo: splat(-87.3), hi: splat(88.7), log2e: splat(1.44269504088896341),
		ln2hi: splat(-0.693359375), ln2lo: splat(2.12194440e-4),
		e6: splat(1.0 / 720), e5: splat(1.0 / 120), e4: splat(1.0 / 24), e3: splat(1.0 / 6),
		e2: splat(0.5), one: splat(1), zero: splat(0), half: splat(0.5),
		bias:   archsimd.BroadcastInt32x8(127),
		rsqrt2: splat(0.70710678118654752), p: splat(0.3275911),
		a5: splat(1.061405429), a4: splat(-1.453152027), a3: splat(1.421413741),
		a2: splat(-0.284496736), a1: splat(0.254829592),
	}
}

// exp8 computes e^x: x = n·ln2 + r with |r| <= ln2/2, e^r by its degree-6
// Taylor polynomial (relative error about 1.2e-7), 2^n through the exponent
// bits. Inputs are clamped to the float32 range.
func exp8(k *vconst, x archsimd.Float32x8) archsimd.Float32x8 {
	x = x.Max(k.lo).Min(k.hi)
	n := x.Mul(k.log2e).RoundToEven()
	r := n.MulAdd(k.ln2hi, x) // ln2 split in two for accuracy
	r = n.MulAdd(k.ln2lo, r)
	p := k.e6.MulAdd(r, k.e5)
	p = p.MulAdd(r, k.e4)
	p = p.MulAdd(r, k.e3)
	p = p.MulAdd(r, k.e2)
	p = p.MulAdd(r, k.one)
	p = p.MulAdd(r, k.one)
	pow := n.ConvertToInt32().Add(k.bias).ShiftAllLeft(23).AsFloat32x8()
	return p.Mul(pow)
}

// gelu8 computes x·Φ(x) = x·(1 + erf(x/√2))/2 with erf from Abramowitz and
// Stegun 7.1.26 (absolute error below 1.5e-7).
func gelu8(k *vconst, x archsimd.Float32x8) archsimd.Float32x8 {
	z := x.Mul(k.rsqrt2)
	az := z.Max(k.zero.Sub(z))
	t := k.one.Div(az.MulAdd(k.p, k.one))
	p := k.a5.MulAdd(t, k.a4)
	p = p.MulAdd(t, k.a3)
	p = p.MulAdd(t, k.a2)
	p = p.MulAdd(t, k.a1)
	p = p.Mul(t)
	q := p.Mul(exp8(k, k.zero.Sub(az.Mul(az)))) // q = 1 - erf(|z|)
	// Φ(x) = 1 - q/2 for x >= 0, q/2 for x < 0.
	h := q.Mul(k.half)
	phi := k.one.Sub(h).Merge(h, x.GreaterEqual(k.zero))
	return x.Mul(phi)
}

// GELU applies GELU (erf form) to every element of x.
func GELU(x []float32) {
	if !simdAct {
		geluGo(x)
		return
	}
	k := newVconst()
	i := 0
	for ; i+8 <= len(x); i += 8 {
		store8(gelu8(&k, load8(x, i)), x, i)
	}
	geluGo(x[i:])
}

// SoftmaxRows replaces each of the rows of x (row stride ld, n live
// values) by softmax(scale·row).
func SoftmaxRows(x []float32, ld, rows, n int, scale float32) {
	if !simdAct {
		for r := range rows {
			softmaxGo(x[r*ld:r*ld+n], scale)
		}
		return
	}
	k := newVconst()
	negInf := float32(math.Inf(-1))
	for r := range rows {
		softmax8(&k, x[r*ld:r*ld+n], scale, negInf)
	}
}

// softmax8 is softmax(scale·x) on vectors; the last partial vector goes
// through a buffer padded with -Inf, whose lanes exponentiate to zero.
func softmax8(k *vconst, x []float32, scale, negInf float32) {
	n := len(x) &^ 7
	var tail [8]float32
	for i := range tail {
		tail[i] = negInf
	}
	copy(tail[:], x[n:])
	mv := archsimd.LoadFloat32x8(&tail)
	for i := 0; i < n; i += 8 {
		mv = mv.Max(load8(x, i))
	}
	var buf [8]float32
	mv.Store(&buf)
	m := buf[0]
	for _, v := range buf[1:] {
		m = max(m, v)
	}
	sc, off := splat(scale), splat(-m*scale)
	sum := k.zero
	for i := 0; i < n; i += 8 {
		e := exp8(k, load8(x, i).MulAdd(sc, off))
		store8(e, x, i)
		sum = sum.Add(e)
	}
	et := exp8(k, archsimd.LoadFloat32x8(&tail).MulAdd(sc, off)).Max(k.zero)
	sum = sum.Add(et)
	sum.Store(&buf)
	var s float32
	for _, v := range buf {
		s += v
	}
	inv := splat(1 / s)
	for i := 0; i < n; i += 8 {
		store8(load8(x, i).Mul(inv), x, i)
	}
	et.Mul(inv).Store(&tail)
	copy(x[n:], tail[:])
}

// SwiGLU sets gate[i] = silu(gate[i])·up[i] = gate[i]·up[i] / (1 + e^−gate[i]);
// len(up) ≥ len(gate).
func SwiGLU(gate, up []float32) {
	if !simdAct {
		swigluGo(gate, up)
		return
	}
	up = up[:len(gate)]
	k := newVconst()
	i := 0
	for ; i+8 <= len(gate); i += 8 {
		g := load8(gate, i)
		e := exp8(&k, k.zero.Sub(g))
		store8(g.Mul(load8(up, i)).Div(e.Add(k.one)), gate, i)
	}
	swigluGo(gate[i:], up[i:])
}
