package stability

import (
	"flag"
	"testing"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/familytest"
	"github.com/outcrop/outcrop/internal/provider"
)

var update = flag.Bool("update", false, "rewrite golden files")

func seed(v int64) *int64 { return &v }

func TestDecodeImage(t *testing.T) {
	familytest.Decode(t, []familytest.DecodeCase{
		{Name: "sdxl aws example", Codec: SDXL{}, Body: `{"text_prompts":[{"text":"A stylized picture of a cute old steampunk robot."}],
			"cfg_scale":10,"seed":0,"steps":50,"style_preset":"photographic"}`,
			Want: &provider.ImageRequest{Prompt: "A stylized picture of a cute old steampunk robot.", Count: 1, Width: 1024, Height: 1024,
				Seed: seed(0), Style: "photographic", Format: "png"}},
		{Name: "sdxl weights", Codec: SDXL{}, Body: `{"text_prompts":[{"text":"a castle","weight":1},{"text":"fog","weight":-1},{"text":"at dawn"}],
			"width":1344,"height":768,"samples":1,"seed":4294967295}`,
			Want: &provider.ImageRequest{Prompt: "a castle at dawn", NegativePrompt: "fog", Count: 1, Width: 1344, Height: 768,
				Seed: seed(4294967295), Format: "png"}},
		{Name: "core defaults", Codec: Image{}, Body: `{"prompt":"a cat"}`,
			Want: &provider.ImageRequest{Prompt: "a cat", Count: 1, Width: 1024, Height: 1024, Format: "png"}},
		{Name: "sd3 all fields", Codec: Image{}, Body: `{"prompt":"a cat","negative_prompt":"dogs","aspect_ratio":"16:9","seed":7,"output_format":"jpeg","mode":"text-to-image"}`,
			Want: &provider.ImageRequest{Prompt: "a cat", NegativePrompt: "dogs", Count: 1, Width: 1344, Height: 768, Seed: seed(7), Format: "jpeg"}},
	})
}

func TestDecodeErrors(t *testing.T) {
	familytest.DecodeErrors(t, []familytest.ErrorCase{
		{Name: "sdxl no prompts", Codec: SDXL{}, Body: `{"text_prompts":[]}`,
			Want: "Malformed input request: #/text_prompts: expected minimum item count: 1, found: 0, please reformat your input and try again."},
		{Name: "sdxl size", Codec: SDXL{}, Body: `{"text_prompts":[{"text":"x"}],"width":512,"height":512}`,
			Want: "The image size 512x512 (width x height) is not supported. Supported sizes: 1024x1024, 1152x896, 1216x832, 1344x768, 1536x640, 640x1536, 768x1344, 832x1216, 896x1152."},
		{Name: "sdxl cfg_scale", Codec: SDXL{}, Body: `{"text_prompts":[{"text":"x"}],"cfg_scale":36}`,
			Want: "Malformed input request: #/cfg_scale: 36 is not less or equal to 35, please reformat your input and try again."},
		{Name: "sdxl steps", Codec: SDXL{}, Body: `{"text_prompts":[{"text":"x"}],"steps":5}`,
			Want: "Malformed input request: #/steps: 5 is not greater or equal to 10, please reformat your input and try again."},
		{Name: "sdxl samples", Codec: SDXL{}, Body: `{"text_prompts":[{"text":"x"}],"samples":2}`,
			Want: "Malformed input request: #/samples: 2 is not less or equal to 1, please reformat your input and try again."},
		{Name: "sdxl only negative", Codec: SDXL{}, Body: `{"text_prompts":[{"text":"x","weight":-1}]}`,
			Want: "text_prompts must include at least one prompt with a positive weight."},
		{Name: "sdxl init image", Codec: SDXL{}, Body: `{"text_prompts":[{"text":"x"}],"init_image":"aGk="}`,
			Want: "Image-to-image (init_image) is not supported by Outcrop; only text-to-image is served."},
		{Name: "sdxl titan body", Codec: SDXL{}, Body: `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"}}`,
			Want: "Malformed input request: #: required key [text_prompts] not found#: extraneous key [taskType] is not permitted#: extraneous key [textToImageParams] is not permitted, please reformat your input and try again."},
		{Name: "core aspect ratio", Codec: Image{}, Body: `{"prompt":"x","aspect_ratio":"4:3"}`,
			Want: "Malformed input request: #/aspect_ratio: 4:3 is not a valid enum value, please reformat your input and try again."},
		{Name: "core format", Codec: Image{}, Body: `{"prompt":"x","output_format":"gif"}`,
			Want: "Malformed input request: #/output_format: gif is not a valid enum value, please reformat your input and try again."},
		{Name: "core empty prompt", Codec: Image{}, Body: `{"prompt":""}`,
			Want: "Malformed input request: #/prompt: expected minLength: 1, actual: 0, please reformat your input and try again."},
		{Name: "core seed", Codec: Image{}, Body: `{"prompt":"x","seed":4294967295}`,
			Want: "Malformed input request: #/seed: 4294967295 is not less or equal to 4294967294, please reformat your input and try again."},
		{Name: "sd3 image to image", Codec: Image{}, Body: `{"prompt":"x","mode":"image-to-image","image":"aGk=","strength":0.5}`,
			Want: "Image-to-image is not supported by Outcrop; only text-to-image is served."},
		{Name: "core sdxl body", Codec: Image{}, Body: `{"text_prompts":[{"text":"x"}]}`,
			Want: "Malformed input request: #: required key [prompt] not found#: extraneous key [text_prompts] is not permitted, please reformat your input and try again."},
	})
}

func TestEncodeImage(t *testing.T) {
	tests := []struct {
		name  string
		codec family.ImageCodec
		body  string
	}{
		{"sdxl", SDXL{}, `{"text_prompts":[{"text":"x"}],"seed":1234}`},
		{"sdxl_no_seed", SDXL{}, `{"text_prompts":[{"text":"x"}]}`},
		{"image_png", Image{}, `{"prompt":"x","seed":99}`},
		{"image_jpeg", Image{}, `{"prompt":"x","output_format":"jpeg"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := tt.codec.DecodeImage([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			b, err := tt.codec.EncodeImage(req, familytest.ImageResponse(req))
			if err != nil {
				t.Fatal(err)
			}
			familytest.Golden(t, "testdata/response_"+tt.name+".json", familytest.Indent(t, b), *update)
		})
	}
}

func TestEncodeWrongFormat(t *testing.T) {
	req := &provider.ImageRequest{Count: 1, Format: "jpeg"}
	_, err := Image{}.EncodeImage(req, &provider.ImageResponse{Images: []provider.Image{{Format: "png", Data: []byte("x")}}})
	if err == nil {
		t.Fatal("EncodeImage of a png for a jpeg request: nil error")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"text_prompts":[{"text":"x","weight":0.5}],"width":640,"height":1536,"seed":3}`))
	f.Add([]byte(`{"prompt":"x","aspect_ratio":"9:21","output_format":"jpeg"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		familytest.FuzzImage(t, SDXL{}, body)
		familytest.FuzzImage(t, Image{}, body)
	})
}
