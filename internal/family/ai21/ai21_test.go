package ai21

import (
	"encoding/json"
	"flag"
	"testing"

	"github.com/outcrop/outcrop/internal/family/familytest"
	"github.com/outcrop/outcrop/internal/provider"
)

var update = flag.Bool("update", false, "rewrite golden files")

func text(s string) provider.Block { return provider.Block{Type: provider.TextBlock, Text: s} }

func fixedID() string { return "chatcmpl-TEST" }

func fixedNum() int64 { return 1234 }

func TestDecodeRequest(t *testing.T) {
	familytest.Decode(t, []familytest.DecodeCase{
		{Name: "jamba", Codec: Jamba{}, Body: `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":100,"temperature":1.5,"top_p":0.9,"stop":"END","n":1}`,
			Want: &provider.Request{MaxTokens: 100, Temperature: familytest.Float(1.5), TopP: familytest.Float(0.9), StopSequences: []string{"END"},
				System: []provider.Block{text("Be brief.")}, Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("Hi")}}}}},
		{Name: "jamba tools", Codec: Jamba{}, Body: `{"messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"18C"}],
			"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],"stop":["a","b"],"response_format":{"type":"json_object"}}`,
			Want: &provider.Request{StopSequences: []string{"a", "b"}, Extra: json.RawMessage(`{"response_format":{"type":"json_object"}}`),
				Tools: []provider.Tool{{Name: "get_weather", Schema: json.RawMessage(`{"type":"object"}`)}},
				Messages: []provider.Message{
					{Role: provider.User, Content: []provider.Block{text("Weather?")}},
					{Role: provider.Assistant, Content: []provider.Block{{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: "c1", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}}}},
					{Role: provider.User, Content: []provider.Block{{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{ToolUseID: "c1", Content: []provider.Block{text("18C")}}}}},
				}}},
		{Name: "j2", Codec: J2{}, Body: `{"prompt":"Write a poem.","maxTokens":200,"temperature":0.7,"topP":1,"stopSequences":["##"],"countPenalty":{"scale":0},"presencePenalty":{"scale":0.5,"applyToEmojis":false},"frequencyPenalty":{"scale":0}}`,
			Want: &provider.Request{Raw: true, Prompt: "Write a poem.", MaxTokens: 200, Temperature: familytest.Float(0.7), TopP: familytest.Float(1), StopSequences: []string{"##"},
				PromptChat: familytest.Chat("", "Write a poem.")}},
		{Name: "j2 default maxTokens", Codec: J2{}, Body: `{"prompt":"x"}`, Want: &provider.Request{Raw: true, Prompt: "x", MaxTokens: 16, PromptChat: familytest.Chat("", "x")}},
	})
}

func TestDecodeErrors(t *testing.T) {
	const mal, tail = "Malformed input request: ", ", please reformat your input and try again."
	familytest.DecodeErrors(t, []familytest.ErrorCase{
		{Name: "j2 nulls", Codec: J2{}, Body: `{"prompt":"x","temperature":null,"maxTokens":null,"topP":null}`,
			Want: mal + "#/temperature: expected type: Number, found: Null#/maxTokens: expected type: Integer, found: Null#/topP: expected type: Number, found: Null" + tail},
		{Name: "j2 penalty key", Codec: J2{}, Body: `{"prompt":"x","countPenalty":{"scale":1,"applyToEverything":true}}`,
			Want: mal + "#/countPenalty: extraneous key [applyToEverything] is not permitted" + tail},
		{Name: "j2 numResults", Codec: J2{}, Body: `{"prompt":"x","numResults":2}`, Want: "numResults greater than 1 is not supported. Set numResults to 1 and try again."},
		{Name: "j2 jamba body", Codec: J2{}, Body: `{"messages":[{"role":"user","content":"x"}]}`, Want: mal + "#: required key [prompt] not found#: extraneous key [messages] is not permitted" + tail},
		{Name: "jamba j2 body", Codec: Jamba{}, Body: `{"prompt":"x","maxTokens":5}`, Want: mal + "#: required key [messages] not found#: extraneous key [maxTokens] is not permitted#: extraneous key [prompt] is not permitted" + tail},
		{Name: "jamba temperature", Codec: Jamba{}, Body: `{"messages":[{"role":"user","content":"x"}],"temperature":2.5}`, Want: mal + "#/temperature: 2.5 is not less or equal to 2" + tail},
		{Name: "jamba n", Codec: Jamba{}, Body: `{"messages":[{"role":"user","content":"x"}],"n":2}`, Want: "n greater than 1 is not supported. Set n to 1 and try again."},
		{Name: "jamba stop number", Codec: Jamba{}, Body: `{"messages":[{"role":"user","content":"x"}],"stop":5}`, Want: mal + "#/stop: expected type: one of [String, JSONArray], found: Integer" + tail},
		{Name: "jamba tool without id", Codec: Jamba{}, Body: `{"messages":[{"role":"tool","content":"x"}]}`, Want: "messages.0.tool_call_id: field required for tool messages"},
	})
}

func TestEncodeResponse(t *testing.T) {
	req := &provider.Request{Model: "jamba-1.5-mini", Raw: true, Prompt: "Write a poem.", MaxTokens: 3}
	familytest.Responses(t, *update, []familytest.ResponseCase{
		{Name: "jamba_text", Codec: Jamba{NewID: fixedID}, Req: req, Resp: familytest.TextResponse()},
		{Name: "jamba_tool_calls", Codec: Jamba{NewID: fixedID}, Req: req, Resp: familytest.ToolResponse()},
		{Name: "j2_endoftext", Codec: J2{NewID: fixedNum}, Req: req, Resp: familytest.TextResponse()},
		{Name: "j2_length", Codec: J2{NewID: fixedNum}, Req: req, Resp: familytest.MaxTokensResponse()},
		{Name: "j2_stop", Codec: J2{NewID: fixedNum}, Req: req, Resp: familytest.StopSequenceResponse()},
	})
}

func TestStream(t *testing.T) {
	req := &provider.Request{Model: "jamba-1.5-mini"}
	familytest.Streams(t, *update, []familytest.StreamCase{
		{Name: "jamba_text", Codec: Jamba{NewID: fixedID}, Req: req, Events: familytest.TextEvents()},
		{Name: "jamba_tool_calls", Codec: Jamba{NewID: fixedID}, Req: req, Events: familytest.ToolEvents()},
	})
}

func TestJ2DoesNotStream(t *testing.T) {
	_, err := J2{}.NewStream(&provider.Request{}).Chunks(provider.Event{Type: provider.MessageStartEvent})
	familytest.Invalid(t, err, "The model is unsupported for streaming.")
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"messages":[{"role":"system","content":"s"},{"role":"user","content":"Hi"},{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":""}}]},{"role":"tool","tool_call_id":"c","content":"r"}],"stop":["x"],"n":1,"tools":[{"type":"function","function":{"name":"f"}}]}`))
	f.Add([]byte(`{"prompt":"x","maxTokens":10,"countPenalty":{"scale":1,"applyToNumbers":true}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		familytest.FuzzChat(t, Jamba{}, body)
		familytest.FuzzChat(t, J2{}, body)
	})
}
