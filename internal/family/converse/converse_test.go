package converse

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"no messages", `{}`, "A conversation must start with a user message. Try again with a conversation that starts with a user message."},
		{"assistant first", `{"messages":[{"role":"assistant","content":[{"text":"x"}]}]}`, "A conversation must start with a user message. Try again with a conversation that starts with a user message."},
		{"not alternating", `{"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"user","content":[{"text":"b"}]}]}`,
			"A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."},
		{"empty content", `{"messages":[{"role":"user","content":[]}]}`, "The content field in the Message object at messages.0 is empty. Add a ContentBlock object to the content field and try again."},
		{"blank text", `{"messages":[{"role":"user","content":[{"text":"  "}]}]}`, "The text field in the ContentBlock object at messages.0.content.0 is blank. Add text to the text field, and try again."},
		{"maxTokens", `{"messages":[{"role":"user","content":[{"text":"a"}]}],"inferenceConfig":{"maxTokens":0}}`,
			"1 validation error detected: Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"temperature", `{"messages":[{"role":"user","content":[{"text":"a"}]}],"inferenceConfig":{"temperature":1.5}}`,
			"1 validation error detected: Value '1.5' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1"},
		{"topP", `{"messages":[{"role":"user","content":[{"text":"a"}]}],"inferenceConfig":{"topP":-0.1}}`,
			"1 validation error detected: Value '-0.1' at 'inferenceConfig.topP' failed to satisfy constraint: Member must have value greater than or equal to 0"},
		{"two members", `{"messages":[{"role":"user","content":[{"text":"a","image":{"format":"png","source":{"bytes":""}}}]}]}`,
			"1 validation error detected: Value at 'messages.1.member.content.1.member' failed to satisfy constraint: Member must have exactly one member set"},
		{"tool use without config", `{"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"f","input":{}}}]},{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"r"}]}}]}]}`,
			"The toolConfig field must be defined when using toolUse and toolResult content blocks."},
		{"missing tool result", `{"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object"}}}}]},"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"f","input":{}}}]},{"role":"user","content":[{"text":"no result"}]}]}`,
			"Expected toolResult blocks at messages.2.content for the following Ids: t1"},
		{"extra tool result", `{"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object"}}}}]},"messages":[{"role":"user","content":[{"toolResult":{"toolUseId":"t9","content":[{"text":"r"}]}}]}]}`,
			"The number of toolResult blocks at messages.0.content exceeds the number of toolUse blocks of previous turn."},
		{"bad tool name", `{"toolConfig":{"tools":[{"toolSpec":{"name":"a b","inputSchema":{"json":{"type":"object"}}}}]},"messages":[{"role":"user","content":[{"text":"a"}]}]}`,
			"1 validation error detected: Value 'a b' at 'toolConfig.tools.1.member.toolSpec.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+"},
		{"bad role", `{"messages":[{"role":"system","content":[{"text":"a"}]}]}`,
			"1 validation error detected: Value 'system' at 'messages.1.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]"},
		{"malformed", `{"messages":`, "Malformed input request, please reformat your input and try again."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Decode([]byte(tt.body))
			if fault.KindOf(err) != fault.Invalid || fault.Message(err) != tt.want {
				t.Errorf("Decode(%s) error = %q (kind %v), want Invalid %q", tt.body, fault.Message(err), fault.KindOf(err), tt.want)
			}
		})
	}
}

func TestDecodeCanonical(t *testing.T) {
	body := `{"system":[{"text":"sys"}],"messages":[
	 {"role":"user","content":[{"text":"hi"},{"image":{"format":"png","source":{"bytes":"iVBO"}}},{"document":{"name":"d","format":"txt","source":{"text":"doc"}}}]},
	 {"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"f","input":{"a":1}}}]},
	 {"role":"user","content":[{"toolResult":{"toolUseId":"t1","status":"success","content":[{"json":{"r":2}}]}},{"cachePoint":{"type":"default"}}]}],
	 "inferenceConfig":{"maxTokens":10,"temperature":0.5,"topP":0.9,"stopSequences":["END"]},
	 "toolConfig":{"tools":[{"toolSpec":{"name":"f","description":"d","inputSchema":{"json":{"type":"object"}}}}],"toolChoice":{"tool":{"name":"f"}}},
	 "additionalModelRequestFields":{"top_k":5}}`
	_, got, err := Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	temp, topP := 0.5, 0.9
	want := &provider.Request{
		System: []provider.Block{{Type: provider.TextBlock, Text: "sys"}},
		Messages: []provider.Message{
			{Role: provider.User, Content: []provider.Block{
				{Type: provider.TextBlock, Text: "hi"},
				{Type: provider.ImageBlock, Image: &provider.Image{Format: "png", Data: []byte{0x89, 0x50, 0x4e}}},
				{Type: provider.DocumentBlock, Document: &provider.Document{Format: "txt", Name: "d", Text: "doc"}},
			}},
			{Role: provider.Assistant, Content: []provider.Block{{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: "t1", Name: "f", Input: json.RawMessage(`{"a":1}`)}}}},
			{Role: provider.User, Content: []provider.Block{{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{ToolUseID: "t1", Status: "success",
				Content: []provider.Block{{Type: provider.JSONBlock, JSON: json.RawMessage(`{"r":2}`)}}}}}},
		},
		MaxTokens: 10, Temperature: &temp, TopP: &topP, StopSequences: []string{"END"},
		Tools:      []provider.Tool{{Name: "f", Description: "d", Schema: json.RawMessage(`{"type":"object"}`)}},
		ToolChoice: provider.ToolChoice{Mode: provider.ToolOne, Name: "f"},
		Extra:      json.RawMessage(`{"top_k":5}`),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode mismatch (-want +got):\n%s", diff)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`))
	f.Add([]byte(`{"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}]},"messages":[{"role":"user","content":[{"toolResult":{"toolUseId":"x","content":[{"json":1}]}}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, req, err := Decode(b)
		if err != nil {
			if fault.KindOf(err) != fault.Invalid {
				t.Fatalf("Decode error of kind %v: %v", fault.KindOf(err), err)
			}
			return
		}
		if len(req.Messages) == 0 || req.Messages[0].Role != provider.User {
			t.Fatalf("accepted conversation not starting with a user turn")
		}
		// Whatever decodes must encode as a response without failing.
		resp := &provider.Response{Message: req.Messages[len(req.Messages)-1], StopReason: provider.EndTurn}
		if _, err := json.Marshal(EncodeResponse(resp, 1)); err != nil {
			t.Fatal(err)
		}
	})
}
