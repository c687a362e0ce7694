//go:build !(goexperiment.simd && amd64)

package llm

func (a *attnScratch) qk(sc, q, k []float32, stride int, scale float32) {
	scoresGo(sc, q, k, stride, scale)
}

func (a *attnScratch) weightedSum(out, p, v []float32, stride int) {
	weightedSumGo(out, p, v, stride)
}

// attnKernels names the attention kernel set.
const attnKernels = "portable"
