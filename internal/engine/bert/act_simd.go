//go:build goexperiment.simd && amd64

package bert

import (
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

// exp8 computes e^x: x = n·ln2 + r with |r| <= ln2/2, e^r by its degree-6
// Taylor polynomial (relative error about 1.2e-7), 2^n through the exponent
// bits. Inputs are clamped to the float32 range.
func exp8(x archsimd.Float32x8) archsimd.Float32x8 {
	x = x.Max(splat(-87.3)).Min(splat(88.7))
	n := x.Mul(splat(1.44269504088896341)).RoundToEven()
	r := n.MulAdd(splat(-0.693359375), x) // ln2 split in two for accuracy
	r = n.MulAdd(splat(2.12194440e-4), r)
	p := splat(1.0 / 720)
	p = p.MulAdd(r, splat(1.0/120))
	p = p.MulAdd(r, splat(1.0/24))
	p = p.MulAdd(r, splat(1.0/6))
	p = p.MulAdd(r, splat(0.5))
	p = p.MulAdd(r, splat(1))
	p = p.MulAdd(r, splat(1))
	pow := n.ConvertToInt32().Add(archsimd.BroadcastInt32x8(127)).ShiftAllLeft(23).AsFloat32x8()
	return p.Mul(pow)
}

// gelu8 computes x·Φ(x) = x·(1 + erf(x/√2))/2 with erf from Abramowitz and
// Stegun 7.1.26 (absolute error below 1.5e-7).
func gelu8(x archsimd.Float32x8) archsimd.Float32x8 {
	z := x.Mul(splat(0.70710678118654752))
	az := z.Max(splat(0).Sub(z))
	t := splat(1).Div(az.MulAdd(splat(0.3275911), splat(1)))
	p := splat(1.061405429)
	p = p.MulAdd(t, splat(-1.453152027))
	p = p.MulAdd(t, splat(1.421413741))
	p = p.MulAdd(t, splat(-0.284496736))
	p = p.MulAdd(t, splat(0.254829592))
	p = p.Mul(t)
	q := p.Mul(exp8(splat(0).Sub(az.Mul(az)))) // q = 1 - erf(|z|)
	// Φ(x) = 1 - q/2 for x >= 0, q/2 for x < 0.
	half := q.Mul(splat(0.5))
	phi := splat(1).Sub(half).Merge(half, x.GreaterEqual(splat(0)))
	return x.Mul(phi)
}

// geluInPlace applies GELU (erf form) to every element of x.
func geluInPlace(x []float32) {
	if !simdAct {
		geluGo(x)
		return
	}
	i := 0
	for ; i+8 <= len(x); i += 8 {
		store8(gelu8(load8(x, i)), x, i)
	}
	geluGo(x[i:])
}

// softmaxScaled replaces x by softmax(scale·x).
func softmaxScaled(x []float32, scale float32) {
	if !simdAct || len(x) < 8 {
		softmaxGo(x, scale)
		return
	}
	n := len(x) &^ 7
	mv := load8(x, 0)
	for i := 8; i < n; i += 8 {
		mv = mv.Max(load8(x, i))
	}
	var buf [8]float32
	mv.Store(&buf)
	m := buf[0]
	for _, v := range buf[1:] {
		m = max(m, v)
	}
	for _, v := range x[n:] {
		m = max(m, v)
	}
	sc, off := splat(scale), splat(-m*scale)
	sum := splat(0)
	for i := 0; i < n; i += 8 {
		e := exp8(load8(x, i).MulAdd(sc, off))
		store8(e, x, i)
		sum = sum.Add(e)
	}
	sum.Store(&buf)
	var s float32
	for _, v := range buf {
		s += v
	}
	for i := n; i < len(x); i++ {
		e := float32(exp32((x[i] - m) * scale))
		x[i] = e
		s += e
	}
	inv := splat(1 / s)
	for i := 0; i < n; i += 8 {
		store8(load8(x, i).Mul(inv), x, i)
	}
	for i := n; i < len(x); i++ {
		x[i] *= 1 / s
	}
}

// exp32 is e^x for the scalar tail, through the same vector code so that
// tails and bodies round alike.
func exp32(x float32) float32 {
	var b [8]float32
	b[0] = x
	exp8(archsimd.LoadFloat32x8(&b)).Store(&b)
	return b[0]
}
