package openaicompat

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
)

// Images generates images through OpenAI's Images API (POST
// {BaseURL}/images/generations with response_format b64_json). The
// openai-images backend kind is configuration over it; Client uses it
// with the defaults.
type Images struct {
	HTTP *HTTP
	// NegativePrompt says what to do with a negative prompt, which the
	// API lacks: "" or "append" adds it to the prompt as "Avoid: ...",
	// "field" sends it as negative_prompt, "omit" drops it.
	NegativePrompt string
	// Quality maps the canonical quality to the upstream's; nil means
	// DefaultImageQuality, an empty map never sends quality.
	Quality map[string]string
	// MaxPerRequest splits larger requests into several calls; 0: no limit.
	MaxPerRequest int
}

// DefaultImageQuality maps canonical qualities to DALL-E 3's.
var DefaultImageQuality = map[string]string{"standard": "standard", "high": "hd"}

var _ provider.ImageGenerator = (*Images)(nil)

type (
	imagesRequest struct {
		Model          string `json:"model,omitempty"`
		Prompt         string `json:"prompt"`
		NegativePrompt string `json:"negative_prompt,omitempty"`
		N              int    `json:"n"`
		Size           string `json:"size,omitempty"`
		Quality        string `json:"quality,omitempty"`
		Style          string `json:"style,omitempty"`
		ResponseFormat string `json:"response_format"`
	}
	imagesResponse struct {
		Created int64 `json:"created"`
		Data    []struct {
			B64JSON       string `json:"b64_json"`
			URL           string `json:"url"`
			RevisedPrompt string `json:"revised_prompt"`
		} `json:"data"`
	}
)

// maxImagesResponse bounds an upstream answer: a few large base64 PNGs.
const maxImagesResponse = 256 << 20

// GenerateImages calls /images/generations, in several calls when the
// request asks for more images than MaxPerRequest, and returns the images
// in the format req asks for (transcoding PNG, JPEG or GIF when the
// upstream sent another).
func (im *Images) GenerateImages(ctx context.Context, req *provider.ImageRequest) (*provider.ImageResponse, error) {
	name := im.HTTP.Name
	if strings.TrimSpace(req.Prompt) == "" {
		return nil, fault.New(fault.Invalid, "The prompt is empty.")
	}
	want := req.Format
	if want == "" {
		want = "png"
	}
	if want != "png" && want != "jpeg" {
		return nil, fault.Newf(fault.Invalid, "The %s backend returns png or jpeg images, not %s.", name, want)
	}
	quality := im.Quality
	if quality == nil {
		quality = DefaultImageQuality
	}
	body := imagesRequest{Model: req.Model, Prompt: req.Prompt, Size: imageSize(req), Quality: quality[req.Quality], ResponseFormat: "b64_json"}
	if req.Style == "vivid" || req.Style == "natural" {
		body.Style = req.Style // OpenAI's only styles; others are the family's own vocabulary
	}
	if req.NegativePrompt != "" {
		switch im.NegativePrompt {
		case "", "append":
			body.Prompt += "\n\nAvoid: " + req.NegativePrompt
		case "field":
			body.NegativePrompt = req.NegativePrompt
		}
	}
	out := &provider.ImageResponse{}
	for left := max(req.Count, 1); left > 0; {
		body.N = left
		if m := im.MaxPerRequest; m > 0 && body.N > m {
			body.N = m
		}
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fault.Wrap(fault.Invalid, err, "The request cannot be encoded for the backend.")
		}
		var gr imagesResponse
		if err := im.HTTP.PostJSON(ctx, "/images/generations", b, maxImagesResponse, &gr, "images"); err != nil {
			return nil, err
		}
		if len(gr.Data) != body.N {
			return nil, fault.Newf(fault.ModelFailed, "The %s backend sent %d images for %d requested.", name, len(gr.Data), body.N)
		}
		for _, d := range gr.Data {
			if d.B64JSON == "" {
				return nil, fault.Newf(fault.ModelFailed, "The %s backend sent an image without b64_json (it must honour response_format b64_json).", name)
			}
			raw, err := base64.StdEncoding.DecodeString(d.B64JSON)
			if err != nil {
				return nil, fault.Wrap(fault.ModelFailed, err, fmt.Sprintf("The %s backend sent an image that is not valid base64.", name))
			}
			img, err := convertImage(name, raw, want)
			if err != nil {
				return nil, err
			}
			out.Images = append(out.Images, img)
			if out.RevisedPrompt == "" {
				out.RevisedPrompt = d.RevisedPrompt
			}
		}
		left -= body.N
	}
	return out, nil
}

func imageSize(req *provider.ImageRequest) string {
	if req.Width > 0 && req.Height > 0 {
		return fmt.Sprintf("%dx%d", req.Width, req.Height)
	}
	return ""
}

// formats maps sniffed content types to canonical image formats.
var formats = map[string]string{"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}

// convert returns raw as an image in format want, re-encoding it when the
// upstream sent another format.
func convertImage(name string, raw []byte, want string) (provider.Image, error) {
	got := formats[http.DetectContentType(raw)]
	if got == "" {
		return provider.Image{}, fault.Newf(fault.ModelFailed, "The %s backend sent data that is not an image.", name)
	}
	if got == want {
		return provider.Image{Format: want, Data: raw}, nil
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return provider.Image{}, fault.Wrap(fault.ModelFailed, err, fmt.Sprintf("The %s backend sent a %s image that cannot be converted to %s.", name, got, want))
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
