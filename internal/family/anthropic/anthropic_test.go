package anthropic

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

func fixedID() string { return "msg_bdrk_01TEST" }

func text(s string) provider.Block { return provider.Block{Type: provider.TextBlock, Text: s} }

func TestDecodeMessages(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *provider.Request
	}{
		{"minimal", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":"Hi"}]}`,
			&provider.Request{MaxTokens: 100, Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("Hi")}}}}},
		{"sampling and system blocks", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"temperature":0.5,"top_p":0.9,"top_k":40,"stop_sequences":["END"],
			"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],
			"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]},{"role":"assistant","content":"Hello"}]}`,
			&provider.Request{MaxTokens: 10, Temperature: familytest.Float(0.5), TopP: familytest.Float(0.9), TopK: familytest.Int(40), StopSequences: []string{"END"},
				System: []provider.Block{text("Be brief.")},
				Messages: []provider.Message{
					{Role: provider.User, Content: []provider.Block{text("Hi")}},
					{Role: provider.Assistant, Content: []provider.Block{text("Hello")}},
				}}},
		{"tools and tool turns", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"system":"Use tools.",
			"tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object"}}],
			"tool_choice":{"type":"tool","name":"get_weather"},
			"messages":[{"role":"user","content":"Weather in Paris?"},
				{"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
				{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"18C"}]},{"type":"tool_result","tool_use_id":"toolu_1","is_error":true,"content":"again"}]}]}`,
			&provider.Request{MaxTokens: 10, System: []provider.Block{text("Use tools.")},
				Tools:      []provider.Tool{{Name: "get_weather", Description: "Weather", Schema: json.RawMessage(`{"type":"object"}`)}},
				ToolChoice: provider.ToolChoice{Mode: provider.ToolOne, Name: "get_weather"},
				Messages: []provider.Message{
					{Role: provider.User, Content: []provider.Block{text("Weather in Paris?")}},
					{Role: provider.Assistant, Content: []provider.Block{text("Checking."),
						{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: "toolu_1", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}}}},
					{Role: provider.User, Content: []provider.Block{
						{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{ToolUseID: "toolu_1", Content: []provider.Block{text("18C")}}},
						{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{ToolUseID: "toolu_1", Status: "error", Content: []provider.Block{text("again")}}},
					}},
				}}},
		{"image document thinking", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":2000,"thinking":{"type":"enabled","budget_tokens":1024},
			"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}},
				{"type":"document","title":"notes","source":{"type":"text","media_type":"text/plain","data":"abc"}},{"type":"text","text":"Describe."}]},
				{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"redacted_thinking","data":"xyz"}]}]}`,
			&provider.Request{MaxTokens: 2000, Extra: json.RawMessage(`{"thinking":{"type":"enabled","budget_tokens":1024}}`),
				Messages: []provider.Message{
					{Role: provider.User, Content: []provider.Block{
						{Type: provider.ImageBlock, Image: &provider.Image{Format: "png", Data: []byte{0x89, 0x50, 0x4e}}},
						{Type: provider.DocumentBlock, Document: &provider.Document{Format: "txt", Name: "notes", Text: "abc"}},
						text("Describe."),
					}},
					{Role: provider.Assistant, Content: []provider.Block{
						{Type: provider.ReasoningBlock, Reasoning: &provider.Reasoning{Text: "hmm", Signature: "sig"}},
						{Type: provider.ReasoningBlock, Reasoning: &provider.Reasoning{Redacted: []byte("xyz")}},
					}},
				}}},
		{"consecutive user turns merge", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}`,
			&provider.Request{MaxTokens: 5, Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("a"), text("b")}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Messages{}.DecodeRequest([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeRequest(%s): %v", tt.body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeRequest mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

const mal = "Malformed input request: "
const tail = ", please reformat your input and try again."

func TestDecodeMessagesErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"titan body", `{"inputText":"hi"}`,
			mal + "#: required key [anthropic_version] not found#: required key [max_tokens] not found#: required key [messages] not found#: extraneous key [inputText] is not permitted" + tail},
		{"missing max_tokens", `{"anthropic_version":"bedrock-2023-05-31","messages":[{"role":"user","content":"Hi"}]}`,
			mal + "#: required key [max_tokens] not found" + tail},
		{"extraneous key", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"foo":1,"messages":[{"role":"user","content":"Hi"}]}`,
			mal + "#: extraneous key [foo] is not permitted" + tail},
		{"wrong version", `{"anthropic_version":"2023-06-01","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}`,
			mal + "#/anthropic_version: 2023-06-01 is not a valid enum value" + tail},
		{"max_tokens zero", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":0,"messages":[{"role":"user","content":"Hi"}]}`,
			mal + "#/max_tokens: 0 is not greater or equal to 1" + tail},
		{"temperature and top_k out of range", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"temperature":2,"top_k":501,"messages":[{"role":"user","content":"Hi"}]}`,
			mal + "#/temperature: 2 is not less or equal to 1#/top_k: 501 is not less or equal to 500" + tail},
		{"system role message", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"system","content":"Hi"}]}`,
			mal + "#/messages/0/role: system is not a valid enum value" + tail},
		{"content number", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":5}]}`,
			mal + "#/messages/0/content: expected type: one of [String, JSONArray], found: Integer" + tail},
		{"no messages", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[]}`,
			"messages: at least one message is required"},
		{"assistant first", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"assistant","content":"Hi"}]}`,
			`messages: first message must use the "user" role`},
		{"empty text", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":""}]}]}`,
			"messages: text content blocks must be non-empty"},
		{"unknown block", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":[{"type":"video"}]}]}`,
			"messages.0.content.0: Input tag 'video' found using 'type' does not match any of the expected tags: 'text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking'"},
		{"orphan tool_result", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_9","content":"x"}]}]}`,
			"messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_9. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."},
		{"tool_use without result", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},{"role":"user","content":"y"}]}`,
			"messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1. Each `tool_use` block must have a corresponding `tool_result` block in the next message."},
		{"trailing whitespace prefill", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"Sure "}]}`,
			"messages: final assistant content cannot end with trailing whitespace"},
		{"tool_choice unknown tool", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"g"},"messages":[{"role":"user","content":"x"}]}`,
			"tool_choice.name: Tool 'g' not found in provided tools"},
		{"bad image type", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":""}}]}]}`,
			"messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Messages{}.DecodeRequest([]byte(tt.body))
			familytest.Invalid(t, err, tt.want)
		})
	}
}

func TestDecodeText(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *provider.Request
	}{
		{"one turn", `{"prompt":"\n\nHuman: Hi there\n\nAssistant:","max_tokens_to_sample":300,"temperature":0.5,"top_k":250,"top_p":1,"stop_sequences":["\n\nHuman:"],"anthropic_version":"bedrock-2023-05-31"}`,
			&provider.Request{MaxTokens: 300, Temperature: familytest.Float(0.5), TopK: familytest.Int(250), TopP: familytest.Float(1), StopSequences: []string{"\n\nHuman:"},
				Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("Hi there")}}}}},
		{"system, history, prefill", `{"prompt":"Be a pirate.\n\nHuman: Hi\n\nAssistant: Arr.\n\nHuman: More\n\nHuman: please\n\nAssistant: Aye,","max_tokens_to_sample":5}`,
			&provider.Request{MaxTokens: 5, System: []provider.Block{text("Be a pirate.")},
				Messages: []provider.Message{
					{Role: provider.User, Content: []provider.Block{text("Hi")}},
					{Role: provider.Assistant, Content: []provider.Block{text("Arr.")}},
					{Role: provider.User, Content: []provider.Block{text("More\n\nplease")}},
					{Role: provider.Assistant, Content: []provider.Block{text("Aye,")}},
				}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Text{}.DecodeRequest([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeRequest(%s): %v", tt.body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeRequest mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeTextErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"no human turn", `{"prompt":"Hello","max_tokens_to_sample":5}`, `prompt must start with "\n\nHuman:" turn`},
		{"no assistant turn", `{"prompt":"\n\nHuman: Hello","max_tokens_to_sample":5}`, `prompt must end with "\n\nAssistant:" turn`},
		{"messages body", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}`,
			mal + `#: required key [prompt] not found#: required key [max_tokens_to_sample] not found#: subject must not be valid against schema {"required":["messages"]}` + tail},
		{"max_tokens_to_sample string", `{"prompt":"\n\nHuman: a\n\nAssistant:","max_tokens_to_sample":"5"}`,
			mal + "#/max_tokens_to_sample: expected type: Integer, found: String" + tail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Text{}.DecodeRequest([]byte(tt.body))
			familytest.Invalid(t, err, tt.want)
		})
	}
}

func reasoningResponse() *provider.Response {
	return &provider.Response{
		Message: provider.Message{Role: provider.Assistant, Content: []provider.Block{
			{Type: provider.ReasoningBlock, Reasoning: &provider.Reasoning{Text: "The user greets me.", Signature: "c2ln"}},
			text("Hi!"),
		}},
		StopReason: provider.EndTurn,
		Usage:      provider.Usage{InputTokens: 5, OutputTokens: 9},
	}
}

func TestEncodeResponse(t *testing.T) {
	req := &provider.Request{Model: "claude-3-haiku-20240307"}
	tests := []struct {
		name  string
		codec family.ChatCodec
		resp  *provider.Response
	}{
		{"messages_text", Messages{NewID: fixedID}, familytest.TextResponse()},
		{"messages_tool_use", Messages{NewID: fixedID}, familytest.ToolResponse()},
		{"messages_max_tokens", Messages{NewID: fixedID}, familytest.MaxTokensResponse()},
		{"messages_stop_sequence", Messages{NewID: fixedID}, familytest.StopSequenceResponse()},
		{"messages_thinking", Messages{NewID: fixedID}, reasoningResponse()},
		{"text_end_turn", Text{}, familytest.TextResponse()},
		{"text_max_tokens", Text{}, familytest.MaxTokensResponse()},
		{"text_stop_sequence", Text{}, familytest.StopSequenceResponse()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.codec.EncodeResponse(req, tt.resp)
			if err != nil {
				t.Fatal(err)
			}
			familytest.Golden(t, "testdata/response_"+tt.name+".json", familytest.Indent(t, b), *update)
		})
	}
}

func TestStream(t *testing.T) {
	req := &provider.Request{Model: "claude-3-haiku-20240307"}
	tests := []struct {
		name  string
		codec family.ChatCodec
		evs   []provider.Event
	}{
		{"messages_text", Messages{NewID: fixedID}, familytest.TextEvents()},
		{"messages_tool_use", Messages{NewID: fixedID}, familytest.ToolEvents()},
		{"messages_thinking", Messages{NewID: fixedID}, familytest.ReasoningEvents()},
		{"text", Text{}, familytest.TextEvents()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := familytest.Chunks(t, tt.codec.NewStream(req), tt.evs)
			familytest.Golden(t, "testdata/stream_"+tt.name+".jsonl", got, *update)
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":"Hi"}]}`))
	f.Add([]byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"system":[{"type":"text","text":"s"}],"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"any"},"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]},{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","text":"r"}]}]}]}`))
	f.Add([]byte(`{"prompt":"\n\nHuman: Hi\n\nAssistant:","max_tokens_to_sample":5}`))
	f.Add([]byte(`{"prompt":"x\n\nHuman:\n\nAssistant:\n\nAssistant:\n\nHuman:","max_tokens_to_sample":5}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		familytest.FuzzChat(t, Messages{}, body)
		familytest.FuzzChat(t, Text{}, body)
	})
}
