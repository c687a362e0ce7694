package nova

import (
	"encoding/json"
	"flag"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/family/familytest"
	"github.com/outcrop/outcrop/internal/provider"
)

var update = flag.Bool("update", false, "rewrite golden files")

func text(s string) provider.Block { return provider.Block{Type: provider.TextBlock, Text: s} }

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *provider.Request
	}{
		{"camelCase", `{"schemaVersion":"messages-v1","system":[{"text":"Be brief."}],"messages":[{"role":"user","content":[{"text":"Hi"}]}],
			"inferenceConfig":{"maxTokens":300,"temperature":0.7,"topP":0.9,"topK":20,"stopSequences":["END"]}}`,
			&provider.Request{MaxTokens: 300, Temperature: familytest.Float(0.7), TopP: familytest.Float(0.9), TopK: familytest.Int(20), StopSequences: []string{"END"},
				System: []provider.Block{text("Be brief.")}, Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("Hi")}}}}},
		{"snake_case", `{"messages":[{"role":"user","content":[{"text":"Hi"}]}],"inferenceConfig":{"max_new_tokens":50,"top_p":0.5,"top_k":5}}`,
			&provider.Request{MaxTokens: 50, TopP: familytest.Float(0.5), TopK: familytest.Int(5),
				Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("Hi")}}}}},
		{"image and tools", `{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"bytes":"iVBO"}}},{"text":"What is this?"}]},
			{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"lookup","input":{"q":"x"}}}]},
			{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"json":{"a":1}}]}}]}],
			"toolConfig":{"tools":[{"toolSpec":{"name":"lookup","description":"Look up","inputSchema":{"json":{"type":"object"}}}}],"toolChoice":{"any":{}}}}`,
			&provider.Request{
				Tools:      []provider.Tool{{Name: "lookup", Description: "Look up", Schema: json.RawMessage(`{"type":"object"}`)}},
				ToolChoice: provider.ToolChoice{Mode: provider.ToolAny},
				Messages: []provider.Message{
					{Role: provider.User, Content: []provider.Block{{Type: provider.ImageBlock, Image: &provider.Image{Format: "png", Data: []byte{0x89, 0x50, 0x4e}}}, text("What is this?")}},
					{Role: provider.Assistant, Content: []provider.Block{{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: "t1", Name: "lookup", Input: json.RawMessage(`{"q":"x"}`)}}}},
					{Role: provider.User, Content: []provider.Block{{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{ToolUseID: "t1",
						Content: []provider.Block{{Type: provider.JSONBlock, JSON: json.RawMessage(`{"a":1}`)}}}}}},
				}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Codec{}.DecodeRequest([]byte(tt.body))
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
	tests := []struct{ name, body, want string }{
		{"titan body", `{"inputText":"hi"}`, mal + "#: required key [messages] not found#: extraneous key [inputText] is not permitted" + tail},
		{"string content", `{"messages":[{"role":"user","content":"Hi"}]}`, mal + "#/messages/0/content: expected type: JSONArray, found: String" + tail},
		{"openai block", `{"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]}`, mal + "#/messages/0/content/0: extraneous key [type] is not permitted" + tail},
		{"converse maxTokens placement", `{"messages":[{"role":"user","content":[{"text":"Hi"}]}],"inferenceConfig":{"max_tokens":5}}`,
			mal + "#/inferenceConfig: extraneous key [max_tokens] is not permitted" + tail},
		{"topK too large", `{"messages":[{"role":"user","content":[{"text":"Hi"}]}],"inferenceConfig":{"topK":500}}`,
			mal + "#/inferenceConfig/topK: 500 is not less or equal to 128" + tail},
		{"bad schemaVersion", `{"schemaVersion":"v2","messages":[{"role":"user","content":[{"text":"Hi"}]}]}`,
			mal + "#/schemaVersion: v2 is not a valid enum value" + tail},
		{"assistant first", `{"messages":[{"role":"assistant","content":[{"text":"Hi"}]}]}`,
			"A conversation must start with a user message. Try again with a conversation that starts with a user message."},
		{"blank text", `{"messages":[{"role":"user","content":[{"text":"  "}]}]}`,
			"The text field in the ContentBlock object at messages.0.content.0 is blank. Add text to the text field, and try again."},
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
		{"tool_use", familytest.ToolResponse()},
		{"max_tokens", familytest.MaxTokensResponse()},
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
	tests := []struct {
		name string
		evs  []provider.Event
	}{
		{"text", familytest.TextEvents()},
		{"tool_use", familytest.ToolEvents()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := familytest.Chunks(t, Codec{}.NewStream(&provider.Request{}), tt.evs)
			familytest.Golden(t, "testdata/stream_"+tt.name+".jsonl", got, *update)
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":"messages-v1","system":[{"text":"s"}],"messages":[{"role":"user","content":[{"text":"Hi"}]}],"inferenceConfig":{"max_new_tokens":5,"top_k":3}}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"document":{"format":"txt","name":"d","source":{"bytes":"aGk="}}},{"video":{}}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}],"toolChoice":{"tool":{"name":"f"}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) { familytest.FuzzChat(t, Codec{}, body) })
}
