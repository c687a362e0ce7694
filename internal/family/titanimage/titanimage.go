// Package titanimage holds the Amazon Titan Image Generator G1 InvokeModel
// families: "titan-image" (amazon.titan-image-generator-v1) and
// "titan-image-v2" (amazon.titan-image-generator-v2:0, which adds a style
// to textToImageParams). Only the TEXT_IMAGE task is served; the editing
// and conditioning tasks are refused by name.
//
// Request:
//
//	{"taskType": "TEXT_IMAGE",
//	 "textToImageParams": {"text": "...", "negativeText": "..."},
//	 "imageGenerationConfig": {"numberOfImages": 1, "height": 1024, "width": 1024,
//	                           "cfgScale": 8.0, "seed": 42, "quality": "standard"}}
//
// Response: {"images": ["<base64 PNG>", ...], "error": null}.
package titanimage

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/schema"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// G1 is the titan-image family (Titan Image Generator G1 v1).
type G1 struct{}

// V2 is the titan-image-v2 family (Titan Image Generator G1 v2).
type V2 struct{}

var (
	_ family.ImageCodec = G1{}
	_ family.ImageCodec = V2{}
)

// Name returns "titan-image".
func (G1) Name() string { return "titan-image" }

// Name returns "titan-image-v2".
func (V2) Name() string { return "titan-image-v2" }

// DecodeImage validates a v1 TEXT_IMAGE body.
func (G1) DecodeImage(body []byte) (*provider.ImageRequest, error) { return decode(body, v1Schema) }

// DecodeImage validates a v2 TEXT_IMAGE body.
func (V2) DecodeImage(body []byte) (*provider.ImageRequest, error) { return decode(body, v2Schema) }

// EncodeImage renders {"images": [...], "error": null}.
func (G1) EncodeImage(_ *provider.ImageRequest, resp *provider.ImageResponse) ([]byte, error) {
	return encode(resp)
}

// EncodeImage renders {"images": [...], "error": null}.
func (V2) EncodeImage(_ *provider.ImageRequest, resp *provider.ImageResponse) ([]byte, error) {
	return encode(resp)
}

// Task types of the Titan Image Generator. Only TEXT_IMAGE is served.
var taskTypes = []string{"TEXT_IMAGE", "INPAINTING", "OUTPAINTING", "IMAGE_VARIATION", "COLOR_GUIDED_GENERATION", "BACKGROUND_REMOVAL"}

// Limits from the Titan Image Generator G1 parameter page.
const (
	maxText   = 512
	maxImages = 5
	maxSeed   = 2147483646
)

var configSchema = schema.Obj(nil,
	schema.P("numberOfImages", schema.Int(1, maxImages)),
	schema.P("height", schema.Int(1, schema.NoLimit)),
	schema.P("width", schema.Int(1, schema.NoLimit)),
	schema.P("cfgScale", schema.Num(1.1, 10)),
	schema.P("seed", schema.Int(0, maxSeed)),
	schema.P("quality", schema.Enum("standard", "premium")),
)

func textParams(extra ...schema.Prop) *schema.Schema {
	props := append([]schema.Prop{
		schema.P("text", &schema.Schema{Type: schema.String, MinLength: 1, MaxLength: maxText}),
		schema.P("negativeText", &schema.Schema{Type: schema.String, MinLength: 1, MaxLength: maxText}),
	}, extra...)
	return schema.Obj([]string{"text"}, props...)
}

func bodySchema(params *schema.Schema) *schema.Schema {
	return schema.Obj([]string{"taskType", "textToImageParams"},
		schema.P("taskType", schema.Enum(taskTypes...)),
		schema.P("textToImageParams", params),
		schema.P("imageGenerationConfig", configSchema),
	)
}

var (
	v1Schema = bodySchema(textParams())
	v2Schema = bodySchema(textParams(schema.P("style", &schema.Schema{Type: schema.String, MinLength: 1})))
)

// Sizes are the width×height pairs the Titan Image Generator G1 documents
// as supported.
var Sizes = [][2]int{
	{1024, 1024}, {768, 768}, {512, 512},
	{768, 1152}, {384, 576}, {1152, 768}, {576, 384},
	{768, 1280}, {384, 640}, {1280, 768}, {640, 384},
	{896, 1152}, {448, 576}, {1152, 896}, {576, 448},
	{768, 1408}, {384, 704}, {1408, 768}, {704, 384},
	{640, 1408}, {320, 704}, {1408, 640}, {704, 320},
	{1152, 640}, {1173, 640},
}

type request struct {
	TaskType          string `json:"taskType"`
	TextToImageParams struct {
		Text         string `json:"text"`
		NegativeText string `json:"negativeText"`
		Style        string `json:"style"`
	} `json:"textToImageParams"`
	ImageGenerationConfig struct {
		NumberOfImages *int     `json:"numberOfImages"`
		Height         *int     `json:"height"`
		Width          *int     `json:"width"`
		CfgScale       *float64 `json:"cfgScale"`
		Seed           *int64   `json:"seed"`
		Quality        string   `json:"quality"`
	} `json:"imageGenerationConfig"`
}

func decode(body []byte, s *schema.Schema) (*provider.ImageRequest, error) {
	// Another task's body would fail the schema on its own *Params
	// object; say plainly what is not served instead.
	if v, err := schema.Parse(body); err == nil {
		if m, ok := v.(map[string]any); ok {
			if t, ok := m["taskType"].(string); ok && t != "TEXT_IMAGE" && contains(taskTypes, t) {
				return nil, fault.Newf(fault.Invalid, "The %s task type is not supported by Outcrop; only TEXT_IMAGE is served.", t)
			}
		}
	}
	var in request
	if err := schema.Unmarshal(body, s, &in); err != nil {
		return nil, err
	}
	cfg := in.ImageGenerationConfig
	req := &provider.ImageRequest{
		Prompt:         in.TextToImageParams.Text,
		NegativePrompt: in.TextToImageParams.NegativeText,
		Style:          in.TextToImageParams.Style,
		Count:          1,
		Width:          1024,
		Height:         1024,
		Seed:           cfg.Seed,
		Format:         "png",
	}
	if cfg.NumberOfImages != nil {
		req.Count = *cfg.NumberOfImages
	}
	if cfg.Width != nil {
		req.Width = *cfg.Width
	}
	if cfg.Height != nil {
		req.Height = *cfg.Height
	}
	if !supported(req.Width, req.Height) {
		return nil, fault.Newf(fault.Invalid, "The image size %dx%d (width x height) is not supported. Supported sizes: %s.", req.Width, req.Height, sizeList())
	}
	switch cfg.Quality {
	case "premium":
		req.Quality = "high"
	case "standard":
		req.Quality = "standard"
	}
	return req, nil
}

func supported(w, h int) bool {
	for _, s := range Sizes {
		if s[0] == w && s[1] == h {
			return true
		}
	}
	return false
}

func sizeList() string {
	parts := make([]string, len(Sizes))
	for i, s := range Sizes {
		parts[i] = fmt.Sprintf("%dx%d", s[0], s[1])
	}
	return strings.Join(parts, ", ")
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func encode(resp *provider.ImageResponse) ([]byte, error) {
	out := struct {
		Images []string `json:"images"`
		Error  *string  `json:"error"`
	}{Images: make([]string, len(resp.Images))}
	for i, im := range resp.Images {
		if im.Format != "" && im.Format != "png" {
			return nil, fault.Newf(fault.Internal, "titan-image: backend returned a %s image, want png", im.Format)
		}
		out.Images[i] = base64.StdEncoding.EncodeToString(im.Data)
	}
	return json.Marshal(out)
}
