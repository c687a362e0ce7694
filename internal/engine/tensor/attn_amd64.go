//go:build goexperiment.simd && amd64

package tensor

//go:noescape
func toHalfAVX2(dst *uint16, src *float32, n int)

//go:noescape
func scoresF16AVX2(sc, q *float32, k *uint16, n, stride, hd int, scale float32)

//go:noescape
func weightedSumF16AVX2(out, p *float32, v *uint16, n, stride, hd int)

func toHalfAsm(dst []uint16, src []float32) {
	n := len(src) &^ 7
	if n > 0 {
		_ = dst[n-1]
		toHalfAVX2(&dst[0], &src[0], n)
	}
	toHalfGo(dst[n:], src[n:])
}

func scoresF16Asm(sc, q []float32, k []uint16, stride int, scale float32) {
	hd, n := len(q), len(sc)&^3
	if hd%8 != 0 || hd == 0 {
		scoresF16Go(sc, q, k, stride, scale)
		return
	}
	if n > 0 {
		_ = k[(n-1)*stride+hd-1]
		scoresF16AVX2(&sc[0], &q[0], &k[0], n, stride, hd, scale)
	}
	switch {
	case n == len(sc):
	case n > 0:
		// The last four positions again, overlapping the ones done: the
		// same arithmetic gives the same bits, without a scalar tail.
		t := len(sc) - 4
		scoresF16AVX2(&sc[t], &q[0], &k[t*stride], 4, stride, hd, scale)
	default:
		scoresF16Go(sc, q, k, stride, scale)
	}
}

func weightedSumF16Asm(out, p []float32, v []uint16, stride int) {
	hd, n := len(out), len(p)
	if hd%32 != 0 || hd == 0 || n == 0 {
		weightedSumF16Go(out, p, v, stride)
		return
	}
	_ = v[(n-1)*stride+hd-1]
	weightedSumF16AVX2(&out[0], &p[0], &v[0], n, stride, hd)
}
