// Package openaiimages is the "openai-images" backend kind: any server
// that speaks OpenAI's Images API (POST {baseURL}/images/generations with
// response_format b64_json): OpenAI itself, LocalAI, and the image servers
// that copy its shape. It generates images only (provider.ImageGenerator);
// it serves no text. It reuses openaicompat's HTTP client, retries and
// error mapping; docs/backends.md describes the config block.
//
// A backend of this kind without a baseURL is accepted at start so that
// the built-in catalog can list the Bedrock image models; every call then
// fails with fault.Unavailable naming what to configure.
package openaiimages

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/openaicompat"
)

// Kind is the backend kind's name.
const Kind = "openai-images"

// Spec registers the "openai-images" backend kind.
var Spec = provider.Spec{Kind: Kind, New: func(raw json.RawMessage, env provider.Env) (provider.Adapter, error) {
	return New(raw, env)
}}

// Config is the backend's config block. Unknown fields are errors.
type Config struct {
	openaicompat.Common
	// NegativePrompt says what to do with a negative prompt, which
	// OpenAI's API lacks: "append" (default) adds it to the prompt as
	// "Avoid: ...", "field" sends it as negative_prompt (LocalAI and
	// Stable Diffusion servers read it), "omit" drops it.
	NegativePrompt string `json:"negativePrompt"`
	// Quality maps the canonical quality ("standard", "high") to the
	// upstream's value. Default {"standard": "standard", "high": "hd"}
	// (DALL-E 3); an empty map never sends quality.
	Quality map[string]string `json:"quality"`
	// MaxImagesPerRequest splits a request for more images into several
	// upstream calls (DALL-E 3 makes one image per call). 0: no limit.
	MaxImagesPerRequest int `json:"maxImagesPerRequest"`
}

// Adapter is an openai-images backend. It is safe for concurrent use.
type Adapter struct {
	images *openaicompat.Images // nil when no baseURL is configured
}

var (
	_ provider.Adapter        = (*Adapter)(nil)
	_ provider.ImageGenerator = (*Adapter)(nil)
)

// New builds the backend from its config block.
func New(raw json.RawMessage, env provider.Env) (*Adapter, error) {
	var c Config
	if err := openaicompat.DecodeConfig(Kind, raw, &c); err != nil {
		return nil, err
	}
	switch c.NegativePrompt {
	case "", "append", "field", "omit":
	default:
		return nil, fmt.Errorf("%s backend config: negativePrompt %q: want append, field or omit", Kind, c.NegativePrompt)
	}
	if c.MaxImagesPerRequest < 0 {
		return nil, fmt.Errorf("%s backend config: maxImagesPerRequest must not be negative", Kind)
	}
	if strings.TrimSpace(c.BaseURL) == "" {
		return &Adapter{}, nil
	}
	h, err := c.NewHTTP(Kind, "", env, openaicompat.Bearer)
	if err != nil {
		return nil, err
	}
	h.ErrorInfo = openaicompat.ErrorInfo
	return &Adapter{images: &openaicompat.Images{HTTP: h, NegativePrompt: c.NegativePrompt, Quality: c.Quality, MaxPerRequest: c.MaxImagesPerRequest}}, nil
}

// errUnconfigured is what every call of a backend without a baseURL
// returns.
var errUnconfigured = fault.New(fault.Unavailable, "No image backend is configured: the "+Kind+
	" backend serving this model has no baseURL. An operator must set config.baseURL (and apiKeyEnv) of that backend to an OpenAI-Images-compatible server; see docs/backends.md.")

// Converse refuses: this backend serves image models only.
func (a *Adapter) Converse(context.Context, *provider.Request) (*provider.Response, error) {
	return nil, fault.New(fault.Invalid, "The "+Kind+" backend generates images only; it cannot serve text requests.")
}

// ConverseStream refuses: this backend serves image models only.
func (a *Adapter) ConverseStream(ctx context.Context, req *provider.Request, _ func(provider.Event) error) error {
	_, err := a.Converse(ctx, req)
	return err
}

// GenerateImages runs req on the upstream (openaicompat.Images).
func (a *Adapter) GenerateImages(ctx context.Context, req *provider.ImageRequest) (*provider.ImageResponse, error) {
	if a.images == nil {
		return nil, errUnconfigured
	}
	return a.images.GenerateImages(ctx, req)
}
