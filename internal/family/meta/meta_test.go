package meta

import (
	"flag"
	"testing"

	"github.com/outcrop/outcrop/internal/family/familytest"
	"github.com/outcrop/outcrop/internal/provider"
)

var update = flag.Bool("update", false, "rewrite golden files")

const llama3 = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"

func TestDecodeRequest(t *testing.T) {
	familytest.Decode(t, []familytest.DecodeCase{
		{Name: "minimal", Codec: Codec{}, Body: `{"prompt":"[INST] Hi [/INST]"}`, Want: &provider.Request{Raw: true, Prompt: "[INST] Hi [/INST]", MaxTokens: 512, PromptChat: familytest.Chat("", "Hi")}},
		{Name: "full", Codec: Codec{}, Body: `{"prompt":"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n","temperature":0.5,"top_p":0.9,"max_gen_len":64}`,
			Want: &provider.Request{Raw: true, Prompt: llama3, Temperature: familytest.Float(0.5), TopP: familytest.Float(0.9), MaxTokens: 64,
				PromptChat: familytest.Chat("", "Hi")}},
		// An unformatted prompt is continued, as Llama base behaviour is.
		{Name: "continuation", Codec: Codec{}, Body: `{"prompt":"Once upon a time"}`, Want: &provider.Request{Raw: true, Prompt: "Once upon a time", MaxTokens: 512}},
		{Name: "empty images", Codec: Codec{}, Body: `{"prompt":"x","images":[]}`, Want: &provider.Request{Raw: true, Prompt: "x", MaxTokens: 512}},
	})
}

func TestDecodeErrors(t *testing.T) {
	const mal, tail = "Malformed input request: ", ", please reformat your input and try again."
	familytest.DecodeErrors(t, []familytest.ErrorCase{
		{Name: "openai style max_tokens", Codec: Codec{}, Body: `{"prompt":"x","max_tokens":100}`, Want: mal + "#: extraneous key [max_tokens] is not permitted" + tail},
		{Name: "max_gen_len too large", Codec: Codec{}, Body: `{"prompt":"x","max_gen_len":8192}`, Want: mal + "#/max_gen_len: 8192 is not less or equal to 2048" + tail},
		{Name: "max_gen_len zero", Codec: Codec{}, Body: `{"prompt":"x","max_gen_len":0}`, Want: mal + "#/max_gen_len: 0 is not greater or equal to 1" + tail},
		{Name: "top_p negative", Codec: Codec{}, Body: `{"prompt":"x","top_p":-0.1}`, Want: mal + "#/top_p: -0.1 is not greater or equal to 0" + tail},
		{Name: "max_gen_len fractional", Codec: Codec{}, Body: `{"prompt":"x","max_gen_len":10.5}`, Want: mal + "#/max_gen_len: expected type: Integer, found: BigDecimal" + tail},
		{Name: "titan body", Codec: Codec{}, Body: `{"inputText":"x","textGenerationConfig":{}}`,
			Want: mal + "#: required key [prompt] not found#: extraneous key [inputText] is not permitted#: extraneous key [textGenerationConfig] is not permitted" + tail},
		{Name: "images", Codec: Codec{}, Body: `{"prompt":"x","images":["aGk="]}`, Want: "This model doesn't support image input. Remove the images field and try again."},
		{Name: "array body", Codec: Codec{}, Body: `[1]`, Want: mal + "#: expected type: JSONObject, found: JSONArray" + tail},
	})
}

func TestEncodeResponse(t *testing.T) {
	familytest.Responses(t, *update, []familytest.ResponseCase{
		{Name: "stop", Codec: Codec{}, Resp: familytest.TextResponse()},
		{Name: "length", Codec: Codec{}, Resp: familytest.MaxTokensResponse()},
	})
}

func TestStream(t *testing.T) {
	familytest.Streams(t, *update, []familytest.StreamCase{{Name: "text", Codec: Codec{}, Events: familytest.TextEvents()}})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"prompt":"[INST] Hi [/INST]","temperature":0.5,"top_p":0.9,"max_gen_len":64}`))
	f.Add([]byte(`{"prompt":"x","images":["a"],"max_gen_len":99999999999999999999}`))
	f.Fuzz(func(t *testing.T, body []byte) { familytest.FuzzChat(t, Codec{}, body) })
}
