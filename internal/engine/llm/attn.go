package llm

// attnScratch is one worker's scratch for attention.
type attnScratch struct {
	scores []float32 // max
}
