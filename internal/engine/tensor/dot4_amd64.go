//go:build goexperiment.simd && amd64

package tensor

// Four-row dot kernels in dot4_amd64.s (AVX2, FMA, F16C). Each dots
// 4·groups consecutive rows, stride bytes apart (nb blocks each), with one
// quantized activation, four at a time, and writes one result per row to
// out.
//
//go:noescape
func dotQ4_0x4(w *byte, stride, nb, groups int, aq *int8, ad, as *float32, out *float32)

//go:noescape
func dotQ4_1x4(w *byte, stride, nb, groups int, aq *int8, ad, as *float32, out *float32)

//go:noescape
func dotQ8_0x4(w *byte, stride, nb, groups int, aq *int8, ad, as *float32, out *float32)

// The VNNI twins compute the same integers with VPDPBUSD (AVX-512 VNNI on
// 256-bit registers), one instruction where AVX2 needs two.
//
//go:noescape
func dotQ4_1x4VNNI(w *byte, stride, nb, groups int, aq *int8, ad, as *float32, out *float32)

//go:noescape
func dotQ8_0x4VNNI(w *byte, stride, nb, groups int, aq *int8, ad, as *float32, out *float32)

//go:noescape
func mmQ4x2x4VNNI(w *byte, stride, bb, moff, nb, pairs int, a0, a1, a2, a3 *int8, as, ps, out *float32)

// rows4 adapts an assembly kernel to the kernelSet's direct4 signature.
func rows4(f func(w *byte, stride, nb, groups int, aq *int8, ad, as, out *float32)) func(rows []byte, stride, groups int, a *act, out []float32) {
	return func(rows []byte, stride, groups int, a *act, out []float32) {
		nb := len(a.d)
		if nb == 0 || groups <= 0 {
			clear(out[:4*max(groups, 0)])
			return
		}
		_ = rows[4*groups*stride-1] // whole rows
		_ = out[4*groups-1]
		_ = a.q[nb*qk-1]
		_ = a.s[nb-1]
		f(&rows[0], stride, nb, groups, &a.q[0], &a.d[0], &a.s[0], &out[0])
	}
}

// mmQ4x2x4 is the batched kernel for Q4_0 and Q4_1: two weight rows times
// four activations (see dot4_amd64.s).
//
//go:noescape
func mmQ4x2x4(w *byte, stride, bb, moff, nb, pairs int, a0, a1, a2, a3 *int8, as, ps, out *float32)

// mmKernel is the signature of the two-row, four-input assembly kernels.
type mmKernel = func(w *byte, stride, bb, moff, nb, pairs int, a0, a1, a2, a3 *int8, as, ps, out *float32)

// mmQ4 adapts an mmKernel to the kernelSet's mm4 signature.
func mmQ4(kern mmKernel) func(rows []byte, stride, pairs int, t Type, a *[4]*act, as, ps, out []float32) {
	return func(rows []byte, stride, pairs int, t Type, a *[4]*act, as, ps, out []float32) {
		mmQ4Call(kern, rows, stride, pairs, t, a, as, ps, out)
	}
}

func mmQ4Call(kern mmKernel, rows []byte, stride, pairs int, t Type, a *[4]*act, as, ps, out []float32) {
	nb := len(a[0].d)
	if nb == 0 || pairs <= 0 {
		clear(out[:8*max(pairs, 0)])
		return
	}
	bb, moff := 18, 0
	if t == Q4_1 {
		bb, moff = 20, 2
	}
	_ = rows[(2*pairs-1)*stride+nb*bb-1] // 2·pairs whole rows
	_ = as[nb*16-1]
	_ = ps[nb*8-1]
	_ = out[8*pairs-1]
	for _, x := range a {
		_ = x.q[nb*qk-1]
	}
	kern(&rows[0], stride, bb, moff, nb, pairs, &a[0].q[0], &a[1].q[0], &a[2].q[0], &a[3].q[0], &as[0], &ps[0], &out[0])
}

//go:noescape
func roundHalfAVX2(x *float32, n int)

// roundHalfAsm rounds x to float16 precision with F16C.
func roundHalfAsm(x []float32) {
	n := len(x) &^ 7
	if n > 0 {
		roundHalfAVX2(&x[0], n)
	}
	roundHalfGo(x[n:])
}

//go:noescape
func quantizeActAVX2(x *float32, nb int, q *int8, d, s *float32)

// quantizeActAsm is the AVX2 activation quantizer (see quantizeActGo).
func quantizeActAsm(x []float32, a *act) {
	nb := len(x) / qk
	if nb == 0 {
		return
	}
	_ = a.q[nb*qk-1]
	_ = a.d[nb-1]
	_ = a.s[nb-1]
	quantizeActAVX2(&x[0], nb, &a.q[0], &a.d[0], &a.s[0])
}
