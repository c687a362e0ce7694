// Package all lists the compiled-in backend kinds. Adding a backend is one
// package plus one line here.
package all

import (
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/anthropic"
	"github.com/outcrop/outcrop/internal/provider/bedrock"
	"github.com/outcrop/outcrop/internal/provider/local"
	"github.com/outcrop/outcrop/internal/provider/ollama"
	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/provider/openaiimages"
)

// Providers is every compiled-in adapter kind.
var Providers = []provider.Spec{
	anthropic.Spec,
	bedrock.Spec,
	local.Spec,
	ollama.Spec,
	openai.Spec,
	openaiimages.Spec,
}
