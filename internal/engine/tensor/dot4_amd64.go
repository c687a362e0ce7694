//go:build goexperiment.simd && amd64

package tensor

// Four-row dot kernels in dot4_amd64.s (AVX2, FMA, F16C). Each dots rows
// w, w+stride, w+2·stride, w+3·stride (nb blocks each) with one quantized
// activation and writes the four results to out.
//
//go:noescape
func dotQ4_0x4(w *byte, stride, nb int, aq *int8, ad, as *float32, out *[4]float32)

//go:noescape
func dotQ4_1x4(w *byte, stride, nb int, aq *int8, ad, as *float32, out *[4]float32)

//go:noescape
func dotQ8_0x4(w *byte, stride, nb int, aq *int8, ad, as *float32, out *[4]float32)

// rows4 adapts an assembly kernel to the kernelSet's direct4 signature.
func rows4(f func(w *byte, stride, nb int, aq *int8, ad, as *float32, out *[4]float32)) func(rows []byte, stride int, a *act, out *[4]float32) {
	return func(rows []byte, stride int, a *act, out *[4]float32) {
		nb := len(a.d)
		if nb == 0 {
			*out = [4]float32{}
			return
		}
		_ = rows[3*stride+stride-1] // four whole rows
		_ = a.q[nb*qk-1]
		_ = a.s[nb-1]
		f(&rows[0], stride, nb, &a.q[0], &a.d[0], &a.s[0], out)
	}
}
