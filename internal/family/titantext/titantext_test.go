package titantext

import (
	"flag"
	"testing"

	"github.com/outcrop/outcrop/internal/family/familytest"
	"github.com/outcrop/outcrop/internal/provider"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestDecodeRequest(t *testing.T) {
	familytest.Decode(t, []familytest.DecodeCase{
		{Name: "minimal", Codec: Codec{}, Body: `{"inputText":"User: hi\nBot:"}`,
			Want: &provider.Request{Raw: true, Prompt: "User: hi\nBot:", MaxTokens: 512, PromptChat: familytest.Chat("", "hi")}},
		{Name: "full config", Codec: Codec{}, Body: `{"inputText":"Tell me a story.","textGenerationConfig":{"temperature":0.2,"topP":0.9,"maxTokenCount":100,"stopSequences":["User:","||"]}}`,
			Want: &provider.Request{Raw: true, Prompt: "Tell me a story.", MaxTokens: 100, Temperature: familytest.Float(0.2), TopP: familytest.Float(0.9), StopSequences: []string{"User:", "||"},
				PromptChat: familytest.Chat("", "Tell me a story.")}},
		{Name: "conversation", Codec: Codec{}, Body: `{"inputText":"Be brief.\nUser: Hi\nBot: Hello!\nUser: Name a colour.\nBot:"}`,
			Want: &provider.Request{Raw: true, Prompt: "Be brief.\nUser: Hi\nBot: Hello!\nUser: Name a colour.\nBot:", MaxTokens: 512,
				PromptChat: familytest.Chat("Be brief.", "Hi", "Hello!", "Name a colour.")}},
		{Name: "zero maxTokenCount keeps default", Codec: Codec{}, Body: `{"inputText":"x","textGenerationConfig":{"maxTokenCount":0}}`,
			Want: &provider.Request{Raw: true, Prompt: "x", MaxTokens: 512, PromptChat: familytest.Chat("", "x")}},
	})
}

func TestDecodeErrors(t *testing.T) {
	familytest.DecodeErrors(t, []familytest.ErrorCase{
		{Name: "not JSON", Codec: Codec{}, Body: `{"inputText":`, Want: "Malformed input request, please reformat your input and try again."},
		{Name: "empty body", Codec: Codec{}, Body: ``, Want: "Malformed input request: #: required key [inputText] not found, please reformat your input and try again."},
		{Name: "claude body", Codec: Codec{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[]}`,
			Want: "Malformed input request: #: required key [inputText] not found#: extraneous key [anthropic_version] is not permitted#: extraneous key [max_tokens] is not permitted#: extraneous key [messages] is not permitted, please reformat your input and try again."},
		{Name: "unknown config key", Codec: Codec{}, Body: `{"inputText":"x","textGenerationConfig":{"maxTokens":5}}`,
			Want: "Malformed input request: #/textGenerationConfig: extraneous key [maxTokens] is not permitted, please reformat your input and try again."},
		{Name: "temperature too high", Codec: Codec{}, Body: `{"inputText":"x","textGenerationConfig":{"temperature":1.5}}`,
			Want: "Malformed input request: #/textGenerationConfig/temperature: 1.5 is not less or equal to 1, please reformat your input and try again."},
		{Name: "maxTokenCount not integer", Codec: Codec{}, Body: `{"inputText":"x","textGenerationConfig":{"maxTokenCount":"10"}}`,
			Want: "Malformed input request: #/textGenerationConfig/maxTokenCount: expected type: Integer, found: String, please reformat your input and try again."},
		{Name: "maxTokenCount too large", Codec: Codec{}, Body: `{"inputText":"x","textGenerationConfig":{"maxTokenCount":9000}}`,
			Want: "Malformed input request: #/textGenerationConfig/maxTokenCount: 9000 is not less or equal to 8192, please reformat your input and try again."},
		{Name: "bad stop sequence", Codec: Codec{}, Body: `{"inputText":"x","textGenerationConfig":{"stopSequences":["Observation"]}}`,
			Want: "Malformed input request: #/textGenerationConfig/stopSequences/0: string [Observation] does not match pattern ^(\\|+|User:)$, please reformat your input and try again."},
		{Name: "empty inputText", Codec: Codec{}, Body: `{"inputText":""}`,
			Want: "Malformed input request: #/inputText: expected minLength: 1, actual: 0, please reformat your input and try again."},
		{Name: "null inputText", Codec: Codec{}, Body: `{"inputText":null}`,
			Want: "Malformed input request: #/inputText: expected type: String, found: Null, please reformat your input and try again."},
	})
}

func TestEncodeResponse(t *testing.T) {
	req := &provider.Request{Raw: true}
	familytest.Responses(t, *update, []familytest.ResponseCase{
		{Name: "text", Codec: Codec{}, Req: req, Resp: familytest.TextResponse()},
		{Name: "max_tokens", Codec: Codec{}, Req: req, Resp: familytest.MaxTokensResponse()},
		{Name: "stop_sequence", Codec: Codec{}, Req: req, Resp: familytest.StopSequenceResponse()},
	})
}

func TestStream(t *testing.T) {
	familytest.Streams(t, *update, []familytest.StreamCase{{Name: "text", Codec: Codec{}, Events: familytest.TextEvents()}})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"inputText":"hi","textGenerationConfig":{"temperature":0.5,"topP":1,"maxTokenCount":10,"stopSequences":["|"]}}`))
	f.Add([]byte(`{"inputText":1e400}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) { familytest.FuzzChat(t, Codec{}, body) })
}
