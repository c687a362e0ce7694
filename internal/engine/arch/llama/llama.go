// Package llama binds the GGUF "llama" architecture (Llama 2/3.x,
// TinyLlama, SmolLM2, Mistral without sliding window) to the llm runtime.
package llama

import "github.com/outcrop/outcrop/internal/engine/llm"

// Arch describes general.architecture "llama": adjacent-pair RoPE (the
// converter permutes Q/K rows for it), optional Q/K/V biases, optional
// untied output and llama 3.1 rope_freqs.
var Arch = llm.Arch{
	Name:         "llama",
	Rope:         llm.RopeNormal,
	RopeFreqBase: 10000,
	Global:       llm.LlamaGlobal(),
	Layer:        llm.LlamaLayer(false),
}
