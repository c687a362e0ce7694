package mistral

import (
	"encoding/json"
	"flag"
	"testing"

	"github.com/outcrop/outcrop/internal/family/familytest"
	"github.com/outcrop/outcrop/internal/provider"
)

var update = flag.Bool("update", false, "rewrite golden files")

func text(s string) provider.Block { return provider.Block{Type: provider.TextBlock, Text: s} }

func TestDecodeRequest(t *testing.T) {
	familytest.Decode(t, []familytest.DecodeCase{
		{Name: "text", Codec: Text{}, Body: `{"prompt":"<s>[INST] Hi [/INST]","max_tokens":200,"stop":["</s>"],"temperature":0.5,"top_p":0.9,"top_k":50}`,
			Want: &provider.Request{Raw: true, Prompt: "<s>[INST] Hi [/INST]", MaxTokens: 200, StopSequences: []string{"</s>"}, Temperature: familytest.Float(0.5), TopP: familytest.Float(0.9), TopK: familytest.Int(50),
				PromptChat: familytest.Chat("", "Hi")}},
		{Name: "text continuation", Codec: Text{}, Body: `{"prompt":"The capital of France is"}`,
			Want: &provider.Request{Raw: true, Prompt: "The capital of France is"}},
		{Name: "chat", Codec: Chat{}, Body: `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":100,"temperature":0.3}`,
			Want: &provider.Request{MaxTokens: 100, Temperature: familytest.Float(0.3), System: []provider.Block{text("Be brief.")},
				Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("Hi")}}}}},
		{Name: "chat tools", Codec: Chat{}, Body: `{"messages":[{"role":"user","content":"Weather in Paris?"},
			{"role":"assistant","content":"","tool_calls":[{"id":"abc123def","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
			{"role":"tool","tool_call_id":"abc123def","content":"18C"},{"role":"user","content":"Thanks"}],
			"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object"}}}],"tool_choice":"any"}`,
			Want: &provider.Request{
				Tools:      []provider.Tool{{Name: "get_weather", Description: "Weather", Schema: json.RawMessage(`{"type":"object"}`)}},
				ToolChoice: provider.ToolChoice{Mode: provider.ToolAny},
				Messages: []provider.Message{
					{Role: provider.User, Content: []provider.Block{text("Weather in Paris?")}},
					{Role: provider.Assistant, Content: []provider.Block{{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: "abc123def", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}}}},
					{Role: provider.User, Content: []provider.Block{
						{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{ToolUseID: "abc123def", Content: []provider.Block{text("18C")}}},
						text("Thanks"),
					}},
				}}},
	})
}

func TestDecodeErrors(t *testing.T) {
	const mal, tail = "Malformed input request: ", ", please reformat your input and try again."
	familytest.DecodeErrors(t, []familytest.ErrorCase{
		{Name: "text llama body", Codec: Text{}, Body: `{"prompt":"x","max_gen_len":10}`, Want: mal + "#: extraneous key [max_gen_len] is not permitted" + tail},
		{Name: "text top_k", Codec: Text{}, Body: `{"prompt":"x","top_k":0}`, Want: mal + "#/top_k: 0 is not greater or equal to 1" + tail},
		{Name: "text too many stops", Codec: Text{}, Body: `{"prompt":"x","stop":["1","2","3","4","5","6","7","8","9","10","11"]}`, Want: mal + "#/stop: expected maximum item count: 10, found: 11" + tail},
		{Name: "text chat body", Codec: Text{}, Body: `{"messages":[{"role":"user","content":"x"}]}`, Want: mal + "#: required key [prompt] not found#: extraneous key [messages] is not permitted" + tail},
		{Name: "chat text body", Codec: Chat{}, Body: `{"prompt":"x"}`, Want: mal + "#: required key [messages] not found#: extraneous key [prompt] is not permitted" + tail},
		{Name: "chat empty messages", Codec: Chat{}, Body: `{"messages":[]}`, Want: mal + "#/messages: expected minimum item count: 1, found: 0" + tail},
		{Name: "chat bad role", Codec: Chat{}, Body: `{"messages":[{"role":"developer","content":"x"}]}`, Want: mal + "#/messages/0/role: developer is not a valid enum value" + tail},
		{Name: "chat bad tool_choice", Codec: Chat{}, Body: `{"messages":[{"role":"user","content":"x"}],"tool_choice":"required"}`, Want: mal + "#/tool_choice: required is not a valid enum value" + tail},
		{Name: "chat tool without id", Codec: Chat{}, Body: `{"messages":[{"role":"tool","content":"x"}]}`, Want: "Tool message at index 0 must have a tool_call_id."},
		{Name: "chat bad arguments", Codec: Chat{}, Body: `{"messages":[{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f","arguments":"[1]"}}]}]}`,
			Want: "The arguments of tool call a at message 0 are not a JSON object."},
	})
}

func TestEncodeResponse(t *testing.T) {
	familytest.Responses(t, *update, []familytest.ResponseCase{
		{Name: "text_stop", Codec: Text{}, Resp: familytest.TextResponse()},
		{Name: "text_length", Codec: Text{}, Resp: familytest.MaxTokensResponse()},
		{Name: "chat_text", Codec: Chat{}, Resp: familytest.TextResponse()},
		{Name: "chat_tool_calls", Codec: Chat{}, Resp: familytest.ToolResponse()},
	})
}

func TestStream(t *testing.T) {
	familytest.Streams(t, *update, []familytest.StreamCase{
		{Name: "text", Codec: Text{}, Events: familytest.TextEvents()},
		{Name: "chat_text", Codec: Chat{}, Events: familytest.TextEvents()},
		{Name: "chat_tool_calls", Codec: Chat{}, Events: familytest.ToolEvents()},
	})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"prompt":"<s>[INST] Hi [/INST]","max_tokens":200,"stop":["</s>"],"temperature":0.5,"top_p":0.9,"top_k":50}`))
	f.Add([]byte(`{"messages":[{"role":"system","content":"s"},{"role":"user","content":"Hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"a","function":{"name":"f","arguments":{"x":1}}}]},{"role":"tool","tool_call_id":"a","content":"r"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"tool_choice":"auto"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		familytest.FuzzChat(t, Text{}, body)
		familytest.FuzzChat(t, Chat{}, body)
	})
}
