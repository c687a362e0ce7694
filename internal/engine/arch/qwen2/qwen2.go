// Package qwen2 binds the GGUF "qwen2" architecture (Qwen2, Qwen2.5) to the
// llm runtime.
package qwen2

import "github.com/outcrop/outcrop/internal/engine/llm"

// Arch describes general.architecture "qwen2": NeoX-style RoPE and
// required Q/K/V biases.
var Arch = llm.Arch{
	Name:         "qwen2",
	Rope:         llm.RopeNeox,
	RopeFreqBase: 1000000,
	Global:       llm.LlamaGlobal(),
	Layer:        llm.LlamaLayer(true),
}
