package llm

// attnScratch is one head's scratch for attention.
type attnScratch struct {
	scores []float32 // max
}
