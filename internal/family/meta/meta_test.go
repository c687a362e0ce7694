package meta

import (
	"flag"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/family/familytest"
	"github.com/outcrop/outcrop/internal/provider"
)

var update = flag.Bool("update", false, "rewrite golden files")

const llama3 = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *provider.Request
	}{
		{"minimal", `{"prompt":"[INST] Hi [/INST]"}`, &provider.Request{Raw: true, Prompt: "[INST] Hi [/INST]", MaxTokens: 512}},
		{"full", `{"prompt":"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n","temperature":0.5,"top_p":0.9,"max_gen_len":64}`,
			&provider.Request{Raw: true, Prompt: llama3, Temperature: familytest.Float(0.5), TopP: familytest.Float(0.9), MaxTokens: 64}},
		{"empty images", `{"prompt":"x","images":[]}`, &provider.Request{Raw: true, Prompt: "x", MaxTokens: 512}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Codec{}.DecodeRequest([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeRequest(%s): %v", tt.body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeRequest(%s) mismatch (-want +got):\n%s", tt.body, diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	const mal, tail = "Malformed input request: ", ", please reformat your input and try again."
	tests := []struct{ name, body, want string }{
		{"openai style max_tokens", `{"prompt":"x","max_tokens":100}`, mal + "#: extraneous key [max_tokens] is not permitted" + tail},
		{"max_gen_len too large", `{"prompt":"x","max_gen_len":8192}`, mal + "#/max_gen_len: 8192 is not less or equal to 2048" + tail},
		{"max_gen_len zero", `{"prompt":"x","max_gen_len":0}`, mal + "#/max_gen_len: 0 is not greater or equal to 1" + tail},
		{"top_p negative", `{"prompt":"x","top_p":-0.1}`, mal + "#/top_p: -0.1 is not greater or equal to 0" + tail},
		{"max_gen_len fractional", `{"prompt":"x","max_gen_len":10.5}`, mal + "#/max_gen_len: expected type: Integer, found: BigDecimal" + tail},
		{"titan body", `{"inputText":"x","textGenerationConfig":{}}`,
			mal + "#: required key [prompt] not found#: extraneous key [inputText] is not permitted#: extraneous key [textGenerationConfig] is not permitted" + tail},
		{"images", `{"prompt":"x","images":["aGk="]}`, "This model doesn't support image input. Remove the images field and try again."},
		{"array body", `[1]`, mal + "#: expected type: JSONObject, found: JSONArray" + tail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Codec{}.DecodeRequest([]byte(tt.body))
			familytest.Invalid(t, err, tt.want)
		})
	}
}

func TestEncodeResponse(t *testing.T) {
	tests := []struct {
		name string
		resp *provider.Response
	}{
		{"stop", familytest.TextResponse()},
		{"length", familytest.MaxTokensResponse()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Codec{}.EncodeResponse(&provider.Request{}, tt.resp)
			if err != nil {
				t.Fatal(err)
			}
			familytest.Golden(t, "testdata/response_"+tt.name+".json", familytest.Indent(t, b), *update)
		})
	}
}

func TestStream(t *testing.T) {
	got := familytest.Chunks(t, Codec{}.NewStream(&provider.Request{}), familytest.TextEvents())
	familytest.Golden(t, "testdata/stream_text.jsonl", got, *update)
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"prompt":"[INST] Hi [/INST]","temperature":0.5,"top_p":0.9,"max_gen_len":64}`))
	f.Add([]byte(`{"prompt":"x","images":["a"],"max_gen_len":99999999999999999999}`))
	f.Fuzz(func(t *testing.T, body []byte) { familytest.FuzzChat(t, Codec{}, body) })
}
