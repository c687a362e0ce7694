package openaiapi

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/outcrop/outcrop/internal/api/dialect"
	"github.com/outcrop/outcrop/internal/provider"
)

type (
	// ImageRequest is the body of POST /v1/images/generations.
	ImageRequest struct {
		Model          string `json:"model"`
		Prompt         string `json:"prompt"`
		N              *int   `json:"n"`
		Size           string `json:"size"`
		Quality        string `json:"quality"`
		Style          string `json:"style"`
		ResponseFormat string `json:"response_format"`
		OutputFormat   string `json:"output_format"`
		Background     string `json:"background"`
		Stream         bool   `json:"stream"`
		User           string `json:"user"`
	}
	// ImagesResponse is the response.
	ImagesResponse struct {
		Created int64   `json:"created"`
		Data    []Image `json:"data"`
	}
	// Image is one generated image: base64 in B64JSON, or (response_format
	// url) a data: URL, since Outcrop keeps no files to link to.
	Image struct {
		B64JSON       string `json:"b64_json,omitempty"`
		URL           string `json:"url,omitempty"`
		RevisedPrompt string `json:"revised_prompt,omitempty"`
	}
)

// maxImages is OpenAI's upper bound on n.
const maxImages = 10

// Canonical maps the request. Sizes are "WIDTHxHEIGHT" (or "auto");
// quality hd and high ask for the backend's high quality, standard, medium
// and low for its standard one.
func (ir *ImageRequest) Canonical() (*provider.ImageRequest, error) {
	if ir.Model == "" {
		return nil, dialect.Invalid("model", "you must provide a model parameter")
	}
	if strings.TrimSpace(ir.Prompt) == "" {
		return nil, dialect.Invalid("prompt", "'prompt' must not be empty.")
	}
	req := &provider.ImageRequest{Prompt: ir.Prompt, Count: 1, Style: ir.Style, Format: "png"}
	if ir.N != nil {
		if *ir.N < 1 || *ir.N > maxImages {
			return nil, dialect.Invalid("n", "Invalid 'n': expected a value between 1 and 10, got "+strconv.Itoa(*ir.N)+".")
		}
		req.Count = *ir.N
	}
	if ir.Size != "" && ir.Size != "auto" {
		w, h, ok := parseSize(ir.Size)
		if !ok {
			return nil, dialect.Invalid("size", "Invalid 'size': expected 'auto' or WIDTHxHEIGHT in pixels, such as '1024x1024', got '"+ir.Size+"'.")
		}
		req.Width, req.Height = w, h
	}
	switch ir.Quality {
	case "", "auto":
	case "hd", "high":
		req.Quality = "high"
	case "standard", "medium", "low":
		req.Quality = "standard"
	default:
		return nil, dialect.Invalid("quality", "Invalid 'quality': expected one of 'standard', 'hd', 'low', 'medium', 'high' or 'auto'.")
	}
	switch ir.Style {
	case "", "vivid", "natural":
	default:
		return nil, dialect.Invalid("style", "Invalid 'style': expected 'vivid' or 'natural'.")
	}
	switch ir.ResponseFormat {
	case "", "b64_json", "url":
	default:
		return nil, dialect.Invalid("response_format", "Invalid 'response_format': expected 'b64_json' or 'url'.")
	}
	switch ir.OutputFormat {
	case "", "png":
	case "jpeg":
		req.Format = "jpeg"
	default:
		return nil, dialect.Invalid("output_format", "Invalid 'output_format': Outcrop returns 'png' or 'jpeg' images.")
	}
	switch ir.Background {
	case "", "auto", "opaque":
	default:
		return nil, dialect.Invalid("background", "Invalid 'background': transparent backgrounds are not supported; use 'auto' or 'opaque'.")
	}
	if ir.Stream {
		return nil, dialect.Invalid("stream", "Streaming image generation is not supported.")
	}
	return req, nil
}

// parseSize reads "WIDTHxHEIGHT" with both sides between 1 and 8192.
func parseSize(s string) (w, h int, ok bool) {
	ws, hs, found := strings.Cut(s, "x")
	if !found {
		return 0, 0, false
	}
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if err1 != nil || err2 != nil || w < 1 || h < 1 || w > 8192 || h > 8192 {
		return 0, 0, false
	}
	return w, h, true
}

func (h *Handler) images(w http.ResponseWriter, r *http.Request) error {
	var ir ImageRequest
	if err := dialect.ReadJSON(r, &ir); err != nil {
		return err
	}
	req, err := ir.Canonical()
	if err != nil {
		return err
	}
	t, err := h.m.Resolve(r.Context(), ir.Model, dialect.ActionInvoke)
	if err != nil {
		return err
	}
	resp, err := h.m.GenerateImages(r.Context(), t, req)
	if err != nil {
		return err
	}
	out := ImagesResponse{Created: h.m.Now().Unix(), Data: make([]Image, len(resp.Images))}
	for i, im := range resp.Images {
		b64 := base64.StdEncoding.EncodeToString(im.Data)
		d := Image{RevisedPrompt: resp.RevisedPrompt}
		if ir.ResponseFormat == "url" {
			d.URL = "data:image/" + im.Format + ";base64," + b64
		} else {
			d.B64JSON = b64
		}
		out.Data[i] = d
	}
	return writeJSON(w, http.StatusOK, out)
}
