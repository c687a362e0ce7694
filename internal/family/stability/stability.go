// Package stability holds the Stability AI text-to-image InvokeModel
// families:
//
//   - "stability-sdxl": Stable Diffusion XL 1.0
//     (stability.stable-diffusion-xl-v1). Request {text_prompts: [{text,
//     weight}], height, width, cfg_scale, seed, steps, samples, ...};
//     response {result, artifacts: [{seed, base64, finishReason}]}.
//   - "stability-image": Stable Image Core and Ultra and Stable Diffusion
//     3.x (stability.stable-image-core-v1:1, stability.sd3-5-large-v1:0,
//     ...). Request {prompt, negative_prompt, aspect_ratio, seed,
//     output_format}; response {seeds, finish_reasons, images}.
//
// Only text-to-image is served; image-to-image requests are refused by
// name.
package stability

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

// SDXL is the stability-sdxl family.
type SDXL struct{}

// Image is the stability-image family.
type Image struct{}

var (
	_ family.ImageCodec = SDXL{}
	_ family.ImageCodec = Image{}
)

// Name returns "stability-sdxl".
func (SDXL) Name() string { return "stability-sdxl" }

// Name returns "stability-image".
func (Image) Name() string { return "stability-image" }

// SDXLSizes are the width×height pairs SDXL 1.0 accepts on Bedrock.
var SDXLSizes = [][2]int{
	{1024, 1024}, {1152, 896}, {1216, 832}, {1344, 768}, {1536, 640},
	{640, 1536}, {768, 1344}, {832, 1216}, {896, 1152},
}

var sdxlSchema = schema.Obj([]string{"text_prompts"},
	schema.P("text_prompts", &schema.Schema{Type: schema.Array, MinItems: 1, Items: schema.Obj([]string{"text"},
		schema.P("text", &schema.Schema{Type: schema.String, MinLength: 1, MaxLength: 2000}),
		schema.P("weight", schema.Num(schema.NoLimit, schema.NoLimit)),
	)}),
	schema.P("height", schema.Int(1, schema.NoLimit)),
	schema.P("width", schema.Int(1, schema.NoLimit)),
	schema.P("cfg_scale", schema.Num(0, 35)),
	schema.P("clip_guidance_preset", schema.Enum("FAST_BLUE", "FAST_GREEN", "NONE", "SIMPLE", "SLOW", "SLOWER", "SLOWEST")),
	schema.P("sampler", schema.Enum("DDIM", "DDPM", "K_DPMPP_2M", "K_DPMPP_2S_ANCESTRAL", "K_DPM_2", "K_DPM_2_ANCESTRAL", "K_EULER", "K_EULER_ANCESTRAL", "K_HEUN", "K_LMS")),
	schema.P("samples", schema.Int(1, 1)), // Bedrock generates one image per SDXL call
	schema.P("seed", schema.Int(0, 4294967295)),
	schema.P("steps", schema.Int(10, 50)),
	schema.P("style_preset", schema.Enum("3d-model", "analog-film", "anime", "cinematic", "comic-book", "digital-art", "enhance",
		"fantasy-art", "isometric", "line-art", "low-poly", "modeling-compound", "neon-punk", "origami", "photographic", "pixel-art", "tile-texture")),
	schema.P("extras", &schema.Schema{Type: schema.Object, Open: true}),
	// image-to-image fields, refused after validation with a clear message
	schema.P("init_image", schema.Str()),
	schema.P("init_image_mode", schema.Str()),
	schema.P("image_strength", schema.Num(0, 1)),
	schema.P("step_schedule_start", schema.Num(0, 1)),
	schema.P("step_schedule_end", schema.Num(0, 1)),
)

type sdxlRequest struct {
	TextPrompts []struct {
		Text   string   `json:"text"`
		Weight *float64 `json:"weight"`
	} `json:"text_prompts"`
	Height      *int   `json:"height"`
	Width       *int   `json:"width"`
	Samples     *int   `json:"samples"`
	Seed        *int64 `json:"seed"`
	StylePreset string `json:"style_preset"`
	InitImage   string `json:"init_image"`
}

// DecodeImage validates an SDXL body. Prompts with a negative weight make
// the negative prompt; the others, in order, the prompt.
func (SDXL) DecodeImage(body []byte) (*provider.ImageRequest, error) {
	var in sdxlRequest
	if err := schema.Unmarshal(body, sdxlSchema, &in); err != nil {
		return nil, err
	}
	if in.InitImage != "" {
		return nil, fault.New(fault.Invalid, "Image-to-image (init_image) is not supported by Outcrop; only text-to-image is served.")
	}
	var pos, neg []string
	for _, p := range in.TextPrompts {
		if p.Weight != nil && *p.Weight < 0 {
			neg = append(neg, p.Text)
		} else {
			pos = append(pos, p.Text)
		}
	}
	if len(pos) == 0 {
		return nil, fault.New(fault.Invalid, "text_prompts must include at least one prompt with a positive weight.")
	}
	req := &provider.ImageRequest{
		Prompt: strings.Join(pos, " "), NegativePrompt: strings.Join(neg, " "),
		Count: 1, Width: 1024, Height: 1024, Seed: in.Seed, Style: in.StylePreset, Format: "png",
	}
	if in.Width != nil {
		req.Width = *in.Width
	}
	if in.Height != nil {
		req.Height = *in.Height
	}
	if !oneOf(SDXLSizes, req.Width, req.Height) {
		return nil, fault.Newf(fault.Invalid, "The image size %dx%d (width x height) is not supported. Supported sizes: %s.", req.Width, req.Height, sizeList(SDXLSizes))
	}
	return req, nil
}

// EncodeImage renders {result, artifacts: [{seed, base64, finishReason}]}.
// Backends that do not report seeds get the requested seed back (0 when
// none was given).
func (SDXL) EncodeImage(req *provider.ImageRequest, resp *provider.ImageResponse) ([]byte, error) {
	type artifact struct {
		Seed         int64  `json:"seed"`
		Base64       string `json:"base64"`
		FinishReason string `json:"finishReason"`
	}
	out := struct {
		Result    string     `json:"result"`
		Artifacts []artifact `json:"artifacts"`
	}{Result: "success", Artifacts: make([]artifact, len(resp.Images))}
	for i, im := range resp.Images {
		if err := checkFormat("stability-sdxl", im, "png"); err != nil {
			return nil, err
		}
		out.Artifacts[i] = artifact{Seed: seedOf(req), Base64: base64.StdEncoding.EncodeToString(im.Data), FinishReason: "SUCCESS"}
	}
	return json.Marshal(out)
}

// AspectRatios maps the stability-image aspect ratios to the sizes
// requested from the backend, about one megapixel each, as these models
// produce.
var AspectRatios = map[string][2]int{
	"1:1": {1024, 1024}, "16:9": {1344, 768}, "9:16": {768, 1344},
	"21:9": {1536, 640}, "9:21": {640, 1536}, "3:2": {1216, 832},
	"2:3": {832, 1216}, "5:4": {1120, 896}, "4:5": {896, 1120},
}

var imageSchema = schema.Obj([]string{"prompt"},
	schema.P("prompt", &schema.Schema{Type: schema.String, MinLength: 1, MaxLength: 10000}),
	schema.P("negative_prompt", &schema.Schema{Type: schema.String, MaxLength: 10000}),
	schema.P("aspect_ratio", schema.Enum("16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")),
	schema.P("seed", schema.Int(0, 4294967294)),
	schema.P("output_format", schema.Enum("jpeg", "png")),
	schema.P("mode", schema.Enum("text-to-image", "image-to-image")),
	// image-to-image fields, refused after validation with a clear message
	schema.P("image", schema.Str()),
	schema.P("strength", schema.Num(0, 1)),
)

type imageRequest struct {
	Prompt         string `json:"prompt"`
	NegativePrompt string `json:"negative_prompt"`
	AspectRatio    string `json:"aspect_ratio"`
	Seed           *int64 `json:"seed"`
	OutputFormat   string `json:"output_format"`
	Mode           string `json:"mode"`
	Image          string `json:"image"`
}

// DecodeImage validates a Stable Image Core/Ultra or SD3.x body.
func (Image) DecodeImage(body []byte) (*provider.ImageRequest, error) {
	var in imageRequest
	if err := schema.Unmarshal(body, imageSchema, &in); err != nil {
		return nil, err
	}
	if in.Mode == "image-to-image" || in.Image != "" {
		return nil, fault.New(fault.Invalid, "Image-to-image is not supported by Outcrop; only text-to-image is served.")
	}
	if in.AspectRatio == "" {
		in.AspectRatio = "1:1"
	}
	if in.OutputFormat == "" {
		in.OutputFormat = "png"
	}
	size := AspectRatios[in.AspectRatio]
	return &provider.ImageRequest{
		Prompt: in.Prompt, NegativePrompt: in.NegativePrompt, Count: 1,
		Width: size[0], Height: size[1], Seed: in.Seed, Format: in.OutputFormat,
	}, nil
}

// EncodeImage renders {seeds, finish_reasons, images}; a finish reason is
// null for an image that was generated.
func (Image) EncodeImage(req *provider.ImageRequest, resp *provider.ImageResponse) ([]byte, error) {
	out := struct {
		Seeds         []int64   `json:"seeds"`
		FinishReasons []*string `json:"finish_reasons"`
		Images        []string  `json:"images"`
	}{Seeds: make([]int64, len(resp.Images)), FinishReasons: make([]*string, len(resp.Images)), Images: make([]string, len(resp.Images))}
	for i, im := range resp.Images {
		if err := checkFormat("stability-image", im, req.Format); err != nil {
			return nil, err
		}
		out.Seeds[i] = seedOf(req)
		out.Images[i] = base64.StdEncoding.EncodeToString(im.Data)
	}
	return json.Marshal(out)
}

func seedOf(req *provider.ImageRequest) int64 {
	if req.Seed != nil {
		return *req.Seed
	}
	return 0
}

// checkFormat guards the promise that backends return the format asked
// for (ImageRequest.Format).
func checkFormat(fam string, im provider.Image, want string) error {
	if want == "" {
		want = "png"
	}
	if im.Format != "" && im.Format != want {
		return fault.Newf(fault.Internal, "%s: backend returned a %s image, want %s", fam, im.Format, want)
	}
	return nil
}

func oneOf(sizes [][2]int, w, h int) bool {
	for _, s := range sizes {
		if s[0] == w && s[1] == h {
			return true
		}
	}
	return false
}

func sizeList(sizes [][2]int) string {
	parts := make([]string, len(sizes))
	for i, s := range sizes {
		parts[i] = fmt.Sprintf("%dx%d", s[0], s[1])
	}
	return strings.Join(parts, ", ")
}
