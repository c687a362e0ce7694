package titanimage

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
		{Name: "defaults", Codec: G1{}, Body: `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a lighthouse"}}`,
			Want: &provider.ImageRequest{Prompt: "a lighthouse", Count: 1, Width: 1024, Height: 1024, Format: "png"}},
		{Name: "aws example", Codec: G1{}, Body: `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"A stylized picture of a cute old steampunk robot."},
			"imageGenerationConfig":{"numberOfImages":1,"quality":"standard","cfgScale":8.0,"height":512,"width":512,"seed":42}}`,
			Want: &provider.ImageRequest{Prompt: "A stylized picture of a cute old steampunk robot.", Count: 1, Width: 512, Height: 512,
				Seed: seed(42), Quality: "standard", Format: "png"}},
		{Name: "v2 all fields", Codec: V2{}, Body: `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a fox","negativeText":"people","style":"PHOTOREALISM"},
			"imageGenerationConfig":{"numberOfImages":5,"quality":"premium","cfgScale":1.1,"height":1152,"width":768,"seed":2147483646}}`,
			Want: &provider.ImageRequest{Prompt: "a fox", NegativePrompt: "people", Style: "PHOTOREALISM", Count: 5, Width: 768, Height: 1152,
				Seed: seed(2147483646), Quality: "high", Format: "png"}},
	})
}

func TestDecodeErrors(t *testing.T) {
	const text = `"textToImageParams":{"text":"x"}`
	familytest.DecodeErrors(t, []familytest.ErrorCase{
		{Name: "too many images", Codec: G1{}, Body: `{"taskType":"TEXT_IMAGE",` + text + `,"imageGenerationConfig":{"numberOfImages":6}}`,
			Want: "Malformed input request: #/imageGenerationConfig/numberOfImages: 6 is not less or equal to 5, please reformat your input and try again."},
		{Name: "zero images", Codec: V2{}, Body: `{"taskType":"TEXT_IMAGE",` + text + `,"imageGenerationConfig":{"numberOfImages":0}}`,
			Want: "Malformed input request: #/imageGenerationConfig/numberOfImages: 0 is not greater or equal to 1, please reformat your input and try again."},
		{Name: "cfgScale", Codec: G1{}, Body: `{"taskType":"TEXT_IMAGE",` + text + `,"imageGenerationConfig":{"cfgScale":11}}`,
			Want: "Malformed input request: #/imageGenerationConfig/cfgScale: 11 is not less or equal to 10, please reformat your input and try again."},
		{Name: "seed", Codec: G1{}, Body: `{"taskType":"TEXT_IMAGE",` + text + `,"imageGenerationConfig":{"seed":-1}}`,
			Want: "Malformed input request: #/imageGenerationConfig/seed: -1 is not greater or equal to 0, please reformat your input and try again."},
		{Name: "quality", Codec: G1{}, Body: `{"taskType":"TEXT_IMAGE",` + text + `,"imageGenerationConfig":{"quality":"hd"}}`,
			Want: "Malformed input request: #/imageGenerationConfig/quality: hd is not a valid enum value, please reformat your input and try again."},
		{Name: "size", Codec: G1{}, Body: `{"taskType":"TEXT_IMAGE",` + text + `,"imageGenerationConfig":{"width":1000,"height":1000}}`,
			Want: "The image size 1000x1000 (width x height) is not supported. Supported sizes: 1024x1024, 768x768, 512x512, 768x1152, 384x576, 1152x768, 576x384, 768x1280, 384x640, 1280x768, 640x384, 896x1152, 448x576, 1152x896, 576x448, 768x1408, 384x704, 1408x768, 704x384, 640x1408, 320x704, 1408x640, 704x320, 1152x640, 1173x640."},
		{Name: "missing text", Codec: G1{}, Body: `{"taskType":"TEXT_IMAGE","textToImageParams":{}}`,
			Want: "Malformed input request: #/textToImageParams: required key [text] not found, please reformat your input and try again."},
		{Name: "text too long", Codec: G1{}, Body: `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"` + string(make513()) + `"}}`,
			Want: "Malformed input request: #/textToImageParams/text: expected maxLength: 512, actual: 513, please reformat your input and try again."},
		{Name: "v1 style", Codec: G1{}, Body: `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x","style":"PHOTOREALISM"}}`,
			Want: "Malformed input request: #/textToImageParams: extraneous key [style] is not permitted, please reformat your input and try again."},
		{Name: "inpainting", Codec: V2{}, Body: `{"taskType":"INPAINTING","inPaintingParams":{"image":"aGk=","maskPrompt":"sky"}}`,
			Want: "The INPAINTING task type is not supported by Outcrop; only TEXT_IMAGE is served."},
		{Name: "unknown task", Codec: V2{}, Body: `{"taskType":"PAINT",` + text + `}`,
			Want: "Malformed input request: #/taskType: PAINT is not a valid enum value, please reformat your input and try again."},
		{Name: "stability body", Codec: V2{}, Body: `{"text_prompts":[{"text":"x"}]}`,
			Want: "Malformed input request: #: required key [taskType] not found#: required key [textToImageParams] not found#: extraneous key [text_prompts] is not permitted, please reformat your input and try again."},
		{Name: "not JSON", Codec: G1{}, Body: `taskType`, Want: "Malformed input request, please reformat your input and try again."},
	})
}

func make513() []byte {
	b := make([]byte, 513)
	for i := range b {
		b[i] = 'a'
	}
	return b
}

func TestEncodeImage(t *testing.T) {
	tests := []struct {
		name  string
		codec family.ImageCodec
		body  string
	}{
		{"v1_one", G1{}, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"}}`},
		{"v2_three", V2{}, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageGenerationConfig":{"numberOfImages":3}}`},
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

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x","negativeText":"y"},"imageGenerationConfig":{"numberOfImages":2,"width":512,"height":512}}`))
	f.Add([]byte(`{"taskType":"OUTPAINTING"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		familytest.FuzzImage(t, G1{}, body)
		familytest.FuzzImage(t, V2{}, body)
	})
}
