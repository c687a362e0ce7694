package nova

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
		{Name: "camelCase", Codec: Codec{}, Body: `{"schemaVersion":"messages-v1","system":[{"text":"Be brief."}],"messages":[{"role":"user","content":[{"text":"Hi"}]}],
			"inferenceConfig":{"maxTokens":300,"temperature":0.7,"topP":0.9,"topK":20,"stopSequences":["END"]}}`,
			Want: &provider.Request{MaxTokens: 300, Temperature: familytest.Float(0.7), TopP: familytest.Float(0.9), TopK: familytest.Int(20), StopSequences: []string{"END"},
				System: []provider.Block{text("Be brief.")}, Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("Hi")}}}}},
		{Name: "snake_case", Codec: Codec{}, Body: `{"messages":[{"role":"user","content":[{"text":"Hi"}]}],"inferenceConfig":{"max_new_tokens":50,"top_p":0.5,"top_k":5}}`,
			Want: &provider.Request{MaxTokens: 50, TopP: familytest.Float(0.5), TopK: familytest.Int(5),
				Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("Hi")}}}}},
		{Name: "image and tools", Codec: Codec{}, Body: `{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"bytes":"iVBO"}}},{"text":"What is this?"}]},
			{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"lookup","input":{"q":"x"}}}]},
			{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"json":{"a":1}}]}}]}],
			"toolConfig":{"tools":[{"toolSpec":{"name":"lookup","description":"Look up","inputSchema":{"json":{"type":"object"}}}}],"toolChoice":{"any":{}}}}`,
			Want: &provider.Request{
				Tools:      []provider.Tool{{Name: "lookup", Description: "Look up", Schema: json.RawMessage(`{"type":"object"}`)}},
				ToolChoice: provider.ToolChoice{Mode: provider.ToolAny},
				Messages: []provider.Message{
					{Role: provider.User, Content: []provider.Block{{Type: provider.ImageBlock, Image: &provider.Image{Format: "png", Data: []byte{0x89, 0x50, 0x4e}}}, text("What is this?")}},
					{Role: provider.Assistant, Content: []provider.Block{{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: "t1", Name: "lookup", Input: json.RawMessage(`{"q":"x"}`)}}}},
					{Role: provider.User, Content: []provider.Block{{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{ToolUseID: "t1",
						Content: []provider.Block{{Type: provider.JSONBlock, JSON: json.RawMessage(`{"a":1}`)}}}}}},
				}}},
	})
}

func TestDecodeErrors(t *testing.T) {
	const mal, tail = "Malformed input request: ", ", please reformat your input and try again."
	familytest.DecodeErrors(t, []familytest.ErrorCase{
		{Name: "titan body", Codec: Codec{}, Body: `{"inputText":"hi"}`, Want: mal + "#: required key [messages] not found#: extraneous key [inputText] is not permitted" + tail},
		{Name: "string content", Codec: Codec{}, Body: `{"messages":[{"role":"user","content":"Hi"}]}`, Want: mal + "#/messages/0/content: expected type: JSONArray, found: String" + tail},
		{Name: "openai block", Codec: Codec{}, Body: `{"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]}`, Want: mal + "#/messages/0/content/0: extraneous key [type] is not permitted" + tail},
		{Name: "converse maxTokens placement", Codec: Codec{}, Body: `{"messages":[{"role":"user","content":[{"text":"Hi"}]}],"inferenceConfig":{"max_tokens":5}}`,
			Want: mal + "#/inferenceConfig: extraneous key [max_tokens] is not permitted" + tail},
		{Name: "topK too large", Codec: Codec{}, Body: `{"messages":[{"role":"user","content":[{"text":"Hi"}]}],"inferenceConfig":{"topK":500}}`,
			Want: mal + "#/inferenceConfig/topK: 500 is not less or equal to 128" + tail},
		{Name: "bad schemaVersion", Codec: Codec{}, Body: `{"schemaVersion":"v2","messages":[{"role":"user","content":[{"text":"Hi"}]}]}`,
			Want: mal + "#/schemaVersion: v2 is not a valid enum value" + tail},
		{Name: "assistant first", Codec: Codec{}, Body: `{"messages":[{"role":"assistant","content":[{"text":"Hi"}]}]}`,
			Want: "A conversation must start with a user message. Try again with a conversation that starts with a user message."},
		{Name: "blank text", Codec: Codec{}, Body: `{"messages":[{"role":"user","content":[{"text":"  "}]}]}`,
			Want: "The text field in the ContentBlock object at messages.0.content.0 is blank. Add text to the text field, and try again."},
	})
}

func TestEncodeResponse(t *testing.T) {
	familytest.Responses(t, *update, []familytest.ResponseCase{
		{Name: "text", Codec: Codec{}, Resp: familytest.TextResponse()},
		{Name: "tool_use", Codec: Codec{}, Resp: familytest.ToolResponse()},
		{Name: "max_tokens", Codec: Codec{}, Resp: familytest.MaxTokensResponse()},
	})
}

func TestStream(t *testing.T) {
	familytest.Streams(t, *update, []familytest.StreamCase{
		{Name: "text", Codec: Codec{}, Events: familytest.TextEvents()},
		{Name: "tool_use", Codec: Codec{}, Events: familytest.ToolEvents()},
	})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":"messages-v1","system":[{"text":"s"}],"messages":[{"role":"user","content":[{"text":"Hi"}]}],"inferenceConfig":{"max_new_tokens":5,"top_k":3}}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"document":{"format":"txt","name":"d","source":{"bytes":"aGk="}}},{"video":{}}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}],"toolChoice":{"tool":{"name":"f"}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) { familytest.FuzzChat(t, Codec{}, body) })
}
