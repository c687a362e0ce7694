// Package openai is the "openai" backend kind: any server that speaks the
// OpenAI Chat Completions API (OpenAI itself, vLLM, llama.cpp's server,
// LM Studio, TGI, LocalAI, ...). It is configuration over
// internal/provider/openaicompat; docs/backends.md describes the config
// block.
package openai

import (
	"encoding/json"
	"fmt"

	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/openaicompat"
)

// Spec registers the "openai" backend kind.
var Spec = provider.Spec{Kind: Kind, New: newAdapter}

// Kind is the backend kind's name.
const Kind = "openai"

// DefaultBaseURL is OpenAI's own API.
const DefaultBaseURL = "https://api.openai.com/v1"

// Config is the backend's config block. Unknown fields are errors.
type Config struct {
	openaicompat.Common
	// MaxTokensField is "max_tokens" (default) or "max_completion_tokens".
	MaxTokensField string `json:"maxTokensField"`
	// StreamUsage asks for token counts in streams with
	// stream_options.include_usage (default true).
	StreamUsage *bool `json:"streamUsage"`
	// TopK sends a request's top_k (vLLM and llama.cpp accept it; OpenAI
	// does not).
	TopK bool `json:"topK"`
}

func newAdapter(raw json.RawMessage, env provider.Env) (provider.Adapter, error) {
	return New(raw, env)
}

// New builds the backend from its config block.
func New(raw json.RawMessage, env provider.Env) (*openaicompat.Client, error) {
	var c Config
	if err := openaicompat.DecodeConfig(Kind, raw, &c); err != nil {
		return nil, err
	}
	switch c.MaxTokensField {
	case "", "max_tokens", "max_completion_tokens":
	default:
		return nil, fmt.Errorf("openai backend config: maxTokensField %q: want max_tokens or max_completion_tokens", c.MaxTokensField)
	}
	h, err := c.NewHTTP(Kind, DefaultBaseURL, env, openaicompat.Bearer)
	if err != nil {
		return nil, err
	}
	h.ErrorInfo = openaicompat.ErrorInfo
	return &openaicompat.Client{HTTP: h, Quirks: openaicompat.Quirks{
		MaxTokensField: c.MaxTokensField,
		NoStreamUsage:  c.StreamUsage != nil && !*c.StreamUsage,
		TopK:           c.TopK,
	}}, nil
}
