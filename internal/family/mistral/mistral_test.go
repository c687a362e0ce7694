package mistral

import (
	"encoding/json"
	"flag"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/familytest"
	"github.com/outcrop/outcrop/internal/provider"
)

var update = flag.Bool("update", false, "rewrite golden files")

func text(s string) provider.Block { return provider.Block{Type: provider.TextBlock, Text: s} }

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name  string
		codec family.ChatCodec
		body  string
		want  *provider.Request
	}{
		{"text", Text{}, `{"prompt":"<s>[INST] Hi [/INST]","max_tokens":200,"stop":["</s>"],"temperature":0.5,"top_p":0.9,"top_k":50}`,
			&provider.Request{Raw: true, Prompt: "<s>[INST] Hi [/INST]", MaxTokens: 200, StopSequences: []string{"</s>"}, Temperature: familytest.Float(0.5), TopP: familytest.Float(0.9), TopK: familytest.Int(50)}},
		{"chat", Chat{}, `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":100,"temperature":0.3}`,
			&provider.Request{MaxTokens: 100, Temperature: familytest.Float(0.3), System: []provider.Block{text("Be brief.")},
				Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("Hi")}}}}},
		{"chat tools", Chat{}, `{"messages":[{"role":"user","content":"Weather in Paris?"},
			{"role":"assistant","content":"","tool_calls":[{"id":"abc123def","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
			{"role":"tool","tool_call_id":"abc123def","content":"18C"},{"role":"user","content":"Thanks"}],
			"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object"}}}],"tool_choice":"any"}`,
			&provider.Request{
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.codec.DecodeRequest([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeRequest(%s): %v", tt.body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeRequest mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	const mal, tail = "Malformed input request: ", ", please reformat your input and try again."
	tests := []struct {
		name  string
		codec family.ChatCodec
		body  string
		want  string
	}{
		{"text llama body", Text{}, `{"prompt":"x","max_gen_len":10}`, mal + "#: extraneous key [max_gen_len] is not permitted" + tail},
		{"text top_k", Text{}, `{"prompt":"x","top_k":0}`, mal + "#/top_k: 0 is not greater or equal to 1" + tail},
		{"text too many stops", Text{}, `{"prompt":"x","stop":["1","2","3","4","5","6","7","8","9","10","11"]}`, mal + "#/stop: expected maximum item count: 10, found: 11" + tail},
		{"text chat body", Text{}, `{"messages":[{"role":"user","content":"x"}]}`, mal + "#: required key [prompt] not found#: extraneous key [messages] is not permitted" + tail},
		{"chat text body", Chat{}, `{"prompt":"x"}`, mal + "#: required key [messages] not found#: extraneous key [prompt] is not permitted" + tail},
		{"chat empty messages", Chat{}, `{"messages":[]}`, mal + "#/messages: expected minimum item count: 1, found: 0" + tail},
		{"chat bad role", Chat{}, `{"messages":[{"role":"developer","content":"x"}]}`, mal + "#/messages/0/role: developer is not a valid enum value" + tail},
		{"chat bad tool_choice", Chat{}, `{"messages":[{"role":"user","content":"x"}],"tool_choice":"required"}`, mal + "#/tool_choice: required is not a valid enum value" + tail},
		{"chat tool without id", Chat{}, `{"messages":[{"role":"tool","content":"x"}]}`, "Tool message at index 0 must have a tool_call_id."},
		{"chat bad arguments", Chat{}, `{"messages":[{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f","arguments":"[1]"}}]}]}`,
			"The arguments of tool call a at message 0 are not a JSON object."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.codec.DecodeRequest([]byte(tt.body))
			familytest.Invalid(t, err, tt.want)
		})
	}
}

func TestEncodeResponse(t *testing.T) {
	tests := []struct {
		name  string
		codec family.ChatCodec
		resp  *provider.Response
	}{
		{"text_stop", Text{}, familytest.TextResponse()},
		{"text_length", Text{}, familytest.MaxTokensResponse()},
		{"chat_text", Chat{}, familytest.TextResponse()},
		{"chat_tool_calls", Chat{}, familytest.ToolResponse()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.codec.EncodeResponse(&provider.Request{}, tt.resp)
			if err != nil {
				t.Fatal(err)
			}
			familytest.Golden(t, "testdata/response_"+tt.name+".json", familytest.Indent(t, b), *update)
		})
	}
}

func TestStream(t *testing.T) {
	tests := []struct {
		name  string
		codec family.ChatCodec
		evs   []provider.Event
	}{
		{"text", Text{}, familytest.TextEvents()},
		{"chat_text", Chat{}, familytest.TextEvents()},
		{"chat_tool_calls", Chat{}, familytest.ToolEvents()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := familytest.Chunks(t, tt.codec.NewStream(&provider.Request{}), tt.evs)
			familytest.Golden(t, "testdata/stream_"+tt.name+".jsonl", got, *update)
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"prompt":"<s>[INST] Hi [/INST]","max_tokens":200,"stop":["</s>"],"temperature":0.5,"top_p":0.9,"top_k":50}`))
	f.Add([]byte(`{"messages":[{"role":"system","content":"s"},{"role":"user","content":"Hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"a","function":{"name":"f","arguments":{"x":1}}}]},{"role":"tool","tool_call_id":"a","content":"r"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"tool_choice":"auto"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		familytest.FuzzChat(t, Text{}, body)
		familytest.FuzzChat(t, Chat{}, body)
	})
}
