// Package all lists every architecture the engine supports. Adding an
// architecture is one package under internal/engine/arch plus one entry
// here.
package all

import (
	"github.com/outcrop/outcrop/internal/engine/arch/llama"
	"github.com/outcrop/outcrop/internal/engine/arch/qwen2"
	"github.com/outcrop/outcrop/internal/engine/llm"
)

// Archs are the supported architectures, for llm.Options.Archs.
var Archs = []llm.Arch{llama.Arch, qwen2.Arch}
