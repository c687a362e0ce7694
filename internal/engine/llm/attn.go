package llm

// attnScratch is one head's scratch for the attention kernels.
type attnScratch struct {
	scores []float32 // max
	part   []float32 // max × 4: partial sums (SIMD kernels)
	lanes  []float32 // max × 8: broadcast weights (SIMD kernels)
}

// scoresGo sets sc[t] = scale · q·k_t for t < len(sc), where k_t is
// k[t*stride : t*stride+len(q)].
func scoresGo(sc, q, k []float32, stride int, scale float32) {
	for t := range sc {
		sc[t] = dot(q, k[t*stride:]) * scale
	}
}

// weightedSumGo sets out = Σ_t p[t] · v_t, where v_t is
// v[t*stride : t*stride+len(out)].
func weightedSumGo(out, p, v []float32, stride int) {
	clear(out)
	for t, w := range p {
		axpy(out, v[t*stride:], w)
	}
}
