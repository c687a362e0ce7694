package tensor

// Attention over a key/value cache kept in half precision (F16), as
// llama.cpp keeps it by default: half the memory of float32, and the
// numbers of the reference implementation. Keys and values of consecutive
// positions are stride elements apart.

// ToHalf converts src to F16 (round to nearest even) into dst.
func ToHalf(dst []uint16, src []float32) { fastKernels.toHalf(dst, src) }

// ScoresF16 sets sc[t] = scale · q·k_t for t < len(sc), where k_t is
// k[t*stride : t*stride+len(q)] in F16.
func ScoresF16(sc, q []float32, k []uint16, stride int, scale float32) {
	fastKernels.scoresF16(sc, q, k, stride, scale)
}

// WeightedSumF16 sets out = Σ_t p[t]·v_t, where v_t is
// v[t*stride : t*stride+len(out)] in F16.
func WeightedSumF16(out, p []float32, v []uint16, stride int) {
	fastKernels.weightedSumF16(out, p, v, stride)
}

func toHalfGo(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = floatToHalf(v)
	}
}

func scoresF16Go(sc, q []float32, k []uint16, stride int, scale float32) {
	for t := range sc {
		kt := k[t*stride : t*stride+len(q)]
		var s0, s1, s2, s3 float32
		i := 0
		for ; i+4 <= len(q); i += 4 {
			s0 += q[i] * halfToFloat(kt[i])
			s1 += q[i+1] * halfToFloat(kt[i+1])
			s2 += q[i+2] * halfToFloat(kt[i+2])
			s3 += q[i+3] * halfToFloat(kt[i+3])
		}
		for ; i < len(q); i++ {
			s0 += q[i] * halfToFloat(kt[i])
		}
		sc[t] = ((s0 + s1) + (s2 + s3)) * scale
	}
}

func weightedSumF16Go(out, p []float32, v []uint16, stride int) {
	clear(out)
	for t, w := range p {
		vt := v[t*stride : t*stride+len(out)]
		for i, x := range vt {
			out[i] += w * halfToFloat(x)
		}
	}
}
