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
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	_ "image/gif" // decoders for transcoding whatever the upstream sends
	"image/jpeg"
	"image/png"
	"net/http"
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
	http *openaicompat.HTTP // nil when no baseURL is configured
	cfg  Config
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
	if c.Quality == nil {
		c.Quality = map[string]string{"standard": "standard", "high": "hd"}
	}
	a := &Adapter{cfg: c}
	if strings.TrimSpace(c.BaseURL) == "" {
		return a, nil
	}
	h, err := c.NewHTTP(Kind, "", env, openaicompat.Bearer)
	if err != nil {
		return nil, err
	}
	h.ErrorInfo = openaicompat.ErrorInfo
	a.http = h
	return a, nil
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

type (
	generateRequest struct {
		Model          string `json:"model,omitempty"`
		Prompt         string `json:"prompt"`
		NegativePrompt string `json:"negative_prompt,omitempty"`
		N              int    `json:"n"`
		Size           string `json:"size,omitempty"`
		Quality        string `json:"quality,omitempty"`
		Style          string `json:"style,omitempty"`
		ResponseFormat string `json:"response_format"`
	}
	generateResponse struct {
		Created int64 `json:"created"`
		Data    []struct {
			B64JSON       string `json:"b64_json"`
			URL           string `json:"url"`
			RevisedPrompt string `json:"revised_prompt"`
		} `json:"data"`
	}
)

// maxResponse bounds an upstream answer: a few large base64 PNGs.
const maxResponse = 256 << 20

// GenerateImages calls /images/generations, in several calls when the
// request asks for more images than MaxImagesPerRequest, and returns the
// images in the format req asks for (transcoding PNG, JPEG or GIF when
// the upstream sent another).
func (a *Adapter) GenerateImages(ctx context.Context, req *provider.ImageRequest) (*provider.ImageResponse, error) {
	if a.http == nil {
		return nil, errUnconfigured
	}
	if strings.TrimSpace(req.Prompt) == "" {
		return nil, fault.New(fault.Invalid, "The prompt is empty.")
	}
	want := req.Format
	if want == "" {
		want = "png"
	}
	if want != "png" && want != "jpeg" {
		return nil, fault.Newf(fault.Invalid, "The %s backend returns png or jpeg images, not %s.", Kind, want)
	}
	body := generateRequest{Model: req.Model, Prompt: req.Prompt, Size: size(req), Quality: a.cfg.Quality[req.Quality], ResponseFormat: "b64_json"}
	if req.Style == "vivid" || req.Style == "natural" {
		body.Style = req.Style // OpenAI's only styles; others are the family's own vocabulary
	}
	if req.NegativePrompt != "" {
		switch a.cfg.NegativePrompt {
		case "", "append":
			body.Prompt += "\n\nAvoid: " + req.NegativePrompt
		case "field":
			body.NegativePrompt = req.NegativePrompt
		}
	}
	out := &provider.ImageResponse{}
	for left := max(req.Count, 1); left > 0; {
		body.N = left
		if m := a.cfg.MaxImagesPerRequest; m > 0 && body.N > m {
			body.N = m
		}
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fault.Wrap(fault.Invalid, err, "The request cannot be encoded for the backend.")
		}
		var gr generateResponse
		if err := a.http.PostJSON(ctx, "/images/generations", b, maxResponse, &gr, "images"); err != nil {
			return nil, err
		}
		if len(gr.Data) != body.N {
			return nil, fault.Newf(fault.ModelFailed, "The %s backend sent %d images for %d requested.", Kind, len(gr.Data), body.N)
		}
		for _, d := range gr.Data {
			if d.B64JSON == "" {
				return nil, fault.Newf(fault.ModelFailed, "The %s backend sent an image without b64_json (it must honour response_format b64_json).", Kind)
			}
			raw, err := base64.StdEncoding.DecodeString(d.B64JSON)
			if err != nil {
				return nil, fault.Wrap(fault.ModelFailed, err, fmt.Sprintf("The %s backend sent an image that is not valid base64.", Kind))
			}
			im, err := convert(raw, want)
			if err != nil {
				return nil, err
			}
			out.Images = append(out.Images, im)
			if out.RevisedPrompt == "" {
				out.RevisedPrompt = d.RevisedPrompt
			}
		}
		left -= body.N
	}
	return out, nil
}

func size(req *provider.ImageRequest) string {
	if req.Width > 0 && req.Height > 0 {
		return fmt.Sprintf("%dx%d", req.Width, req.Height)
	}
	return ""
}

// formats maps sniffed content types to canonical image formats.
var formats = map[string]string{"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}

// convert returns raw as an image in format want, re-encoding it when the
// upstream sent another format.
func convert(raw []byte, want string) (provider.Image, error) {
	got := formats[http.DetectContentType(raw)]
	if got == "" {
		return provider.Image{}, fault.Newf(fault.ModelFailed, "The %s backend sent data that is not an image.", Kind)
	}
	if got == want {
		return provider.Image{Format: want, Data: raw}, nil
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return provider.Image{}, fault.Wrap(fault.ModelFailed, err, fmt.Sprintf("The %s backend sent a %s image that cannot be converted to %s.", Kind, got, want))
	}
	var buf bytes.Buffer
	if want == "jpeg" {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	} else {
		err = png.Encode(&buf, img)
	}
	if err != nil {
		return provider.Image{}, fault.Wrap(fault.Internal, err, "")
	}
	return provider.Image{Format: want, Data: buf.Bytes()}, nil
}
