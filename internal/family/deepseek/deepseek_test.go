package deepseek

import (
	"flag"
	"os"
	"testing"

	"github.com/outcrop/outcrop/internal/family/familytest"
	"github.com/outcrop/outcrop/internal/provider"
)

var update = flag.Bool("update", false, "rewrite golden files")

func readBody(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/request_" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const hello = "Describe the purpose of a 'hello world' program in one line."

func TestDecodeRequest(t *testing.T) {
	familytest.Decode(t, []familytest.DecodeCase{
		// The body of the example on Bedrock's DeepSeek page.
		{Name: "r1 example", Codec: Codec{}, Body: readBody(t, "r1_example"),
			Want: &provider.Request{Raw: true, Prompt: "\n<｜begin▁of▁sentence｜><｜User｜>" + hello + "<｜Assistant｜><think>\n\n",
				MaxTokens: 512, Temperature: familytest.Float(0.5), TopP: familytest.Float(0.9), PromptChat: familytest.Chat("", hello)}},
		{Name: "full", Codec: Codec{}, Body: readBody(t, "full"),
			Want: &provider.Request{Raw: true, Prompt: "<｜begin▁of▁sentence｜>You are terse.<｜User｜>Name a colour.<｜Assistant｜></think>",
				MaxTokens: 32768, Temperature: familytest.Float(0), TopP: familytest.Float(1), StopSequences: []string{"\n\n", "END"},
				PromptChat: familytest.Chat("You are terse.", "Name a colour.")}},
		{Name: "plain", Codec: Codec{}, Body: readBody(t, "plain"),
			Want: &provider.Request{Raw: true, Prompt: hello, PromptChat: familytest.Chat("", hello)}},
		{Name: "blank", Codec: Codec{}, Body: `{"prompt":" "}`, Want: &provider.Request{Raw: true, Prompt: " "}},
	})
}

func TestDecodeErrors(t *testing.T) {
	const mal, tail = "Malformed input request: ", ", please reformat your input and try again."
	familytest.DecodeErrors(t, []familytest.ErrorCase{
		{Name: "no prompt", Codec: Codec{}, Body: `{"max_tokens":10}`, Want: mal + "#: required key [prompt] not found" + tail},
		{Name: "temperature above 1", Codec: Codec{}, Body: `{"prompt":"x","temperature":1.5}`, Want: mal + "#/temperature: 1.5 is not less or equal to 1" + tail},
		{Name: "top_p above 1", Codec: Codec{}, Body: `{"prompt":"x","top_p":2}`, Want: mal + "#/top_p: 2 is not less or equal to 1" + tail},
		{Name: "max_tokens zero", Codec: Codec{}, Body: `{"prompt":"x","max_tokens":0}`, Want: mal + "#/max_tokens: 0 is not greater or equal to 1" + tail},
		{Name: "max_tokens too large", Codec: Codec{}, Body: `{"prompt":"x","max_tokens":32769}`, Want: mal + "#/max_tokens: 32769 is not less or equal to 32768" + tail},
		{Name: "eleven stops", Codec: Codec{}, Body: `{"prompt":"x","stop":["a","b","c","d","e","f","g","h","i","j","k"]}`,
			Want: mal + "#/stop: expected maximum item count: 10, found: 11" + tail},
		{Name: "openai messages", Codec: Codec{}, Body: `{"messages":[{"role":"user","content":"x"}]}`,
			Want: mal + "#: required key [prompt] not found#: extraneous key [messages] is not permitted" + tail},
	})
}

func TestEncodeResponse(t *testing.T) {
	familytest.Responses(t, *update, []familytest.ResponseCase{
		{Name: "stop", Codec: Codec{}, Resp: familytest.TextResponse()},
		{Name: "length", Codec: Codec{}, Resp: familytest.MaxTokensResponse()},
		{Name: "stop_sequence", Codec: Codec{}, Resp: familytest.StopSequenceResponse()},
	})
}

func TestStream(t *testing.T) {
	familytest.Streams(t, *update, []familytest.StreamCase{{Name: "text", Codec: Codec{}, Events: familytest.TextEvents()}})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"prompt":"<｜User｜>Hi<｜Assistant｜><think>\n","temperature":0.5,"top_p":0.9,"max_tokens":64,"stop":["x"]}`))
	f.Add([]byte(`{"prompt":"x","max_tokens":99999999999999999999,"stop":[1]}`))
	f.Fuzz(func(t *testing.T, body []byte) { familytest.FuzzChat(t, Codec{}, body) })
}
