package titantext

import (
	"flag"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/family/familytest"
	"github.com/outcrop/outcrop/internal/provider"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *provider.Request
	}{
		{"minimal", `{"inputText":"User: hi\nBot:"}`,
			&provider.Request{Raw: true, Prompt: "User: hi\nBot:", MaxTokens: 512}},
		{"full config", `{"inputText":"Tell me a story.","textGenerationConfig":{"temperature":0.2,"topP":0.9,"maxTokenCount":100,"stopSequences":["User:","||"]}}`,
			&provider.Request{Raw: true, Prompt: "Tell me a story.", MaxTokens: 100, Temperature: familytest.Float(0.2), TopP: familytest.Float(0.9), StopSequences: []string{"User:", "||"}}},
		{"zero maxTokenCount keeps default", `{"inputText":"x","textGenerationConfig":{"maxTokenCount":0}}`,
			&provider.Request{Raw: true, Prompt: "x", MaxTokens: 512}},
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
	tests := []struct{ name, body, want string }{
		{"not JSON", `{"inputText":`, "Malformed input request, please reformat your input and try again."},
		{"empty body", ``, "Malformed input request: #: required key [inputText] not found, please reformat your input and try again."},
		{"claude body", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[]}`,
			"Malformed input request: #: required key [inputText] not found#: extraneous key [anthropic_version] is not permitted#: extraneous key [max_tokens] is not permitted#: extraneous key [messages] is not permitted, please reformat your input and try again."},
		{"unknown config key", `{"inputText":"x","textGenerationConfig":{"maxTokens":5}}`,
			"Malformed input request: #/textGenerationConfig: extraneous key [maxTokens] is not permitted, please reformat your input and try again."},
		{"temperature too high", `{"inputText":"x","textGenerationConfig":{"temperature":1.5}}`,
			"Malformed input request: #/textGenerationConfig/temperature: 1.5 is not less or equal to 1, please reformat your input and try again."},
		{"maxTokenCount not integer", `{"inputText":"x","textGenerationConfig":{"maxTokenCount":"10"}}`,
			"Malformed input request: #/textGenerationConfig/maxTokenCount: expected type: Integer, found: String, please reformat your input and try again."},
		{"maxTokenCount too large", `{"inputText":"x","textGenerationConfig":{"maxTokenCount":9000}}`,
			"Malformed input request: #/textGenerationConfig/maxTokenCount: 9000 is not less or equal to 8192, please reformat your input and try again."},
		{"bad stop sequence", `{"inputText":"x","textGenerationConfig":{"stopSequences":["Observation"]}}`,
			"Malformed input request: #/textGenerationConfig/stopSequences/0: string [Observation] does not match pattern ^(\\|+|User:)$, please reformat your input and try again."},
		{"empty inputText", `{"inputText":""}`,
			"Malformed input request: #/inputText: expected minLength: 1, actual: 0, please reformat your input and try again."},
		{"null inputText", `{"inputText":null}`,
			"Malformed input request: #/inputText: expected type: String, found: Null, please reformat your input and try again."},
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
		{"text", familytest.TextResponse()},
		{"max_tokens", familytest.MaxTokensResponse()},
		{"stop_sequence", familytest.StopSequenceResponse()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Codec{}.EncodeResponse(&provider.Request{Raw: true}, tt.resp)
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
	f.Add([]byte(`{"inputText":"hi","textGenerationConfig":{"temperature":0.5,"topP":1,"maxTokenCount":10,"stopSequences":["|"]}}`))
	f.Add([]byte(`{"inputText":1e400}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) { familytest.FuzzChat(t, Codec{}, body) })
}
