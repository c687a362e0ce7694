package anthropic

import (
	"encoding/json"
	"flag"
	"testing"

	"github.com/outcrop/outcrop/internal/family/familytest"
	"github.com/outcrop/outcrop/internal/provider"
)

var update = flag.Bool("update", false, "rewrite golden files")

func fixedID() string { return "msg_bdrk_01TEST" }

func text(s string) provider.Block { return provider.Block{Type: provider.TextBlock, Text: s} }

func TestDecodeMessages(t *testing.T) {
	familytest.Decode(t, []familytest.DecodeCase{
		{Name: "minimal", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":"Hi"}]}`,
			Want: &provider.Request{MaxTokens: 100, Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("Hi")}}}}},
		{Name: "Anthropic API version, as AnthropicBedrock sends", Codec: Messages{}, Body: `{"anthropic_version":"2026-10-21","max_tokens":100,"messages":[{"role":"user","content":"Hi"}]}`,
			Want: &provider.Request{MaxTokens: 100, Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("Hi")}}}}},
		{Name: "sampling and system blocks", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"temperature":0.5,"top_p":0.9,"top_k":40,"stop_sequences":["END"],
			"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],
			"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]},{"role":"assistant","content":"Hello"}]}`,
			Want: &provider.Request{MaxTokens: 10, Temperature: familytest.Float(0.5), TopP: familytest.Float(0.9), TopK: familytest.Int(40), StopSequences: []string{"END"},
				System: []provider.Block{text("Be brief.")},
				Messages: []provider.Message{
					{Role: provider.User, Content: []provider.Block{text("Hi")}},
					{Role: provider.Assistant, Content: []provider.Block{text("Hello")}},
				}}},
		{Name: "tools and tool turns", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"system":"Use tools.",
			"tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object"}}],
			"tool_choice":{"type":"tool","name":"get_weather"},
			"messages":[{"role":"user","content":"Weather in Paris?"},
				{"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
				{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"18C"}]},{"type":"tool_result","tool_use_id":"toolu_1","is_error":true,"content":"again"}]}]}`,
			Want: &provider.Request{MaxTokens: 10, System: []provider.Block{text("Use tools.")},
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
		{Name: "image document thinking", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":2000,"thinking":{"type":"enabled","budget_tokens":1024},
			"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}},
				{"type":"document","title":"notes","source":{"type":"text","media_type":"text/plain","data":"abc"}},{"type":"text","text":"Describe."}]},
				{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"redacted_thinking","data":"xyz"}]}]}`,
			Want: &provider.Request{MaxTokens: 2000, Extra: json.RawMessage(`{"thinking":{"type":"enabled","budget_tokens":1024}}`),
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
		{Name: "consecutive user turns merge", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}`,
			Want: &provider.Request{MaxTokens: 5, Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("a"), text("b")}}}}},
	})
}

const mal = "Malformed input request: "
const tail = ", please reformat your input and try again."

func TestDecodeMessagesErrors(t *testing.T) {
	familytest.DecodeErrors(t, []familytest.ErrorCase{
		{Name: "titan body", Codec: Messages{}, Body: `{"inputText":"hi"}`,
			Want: mal + "#: required key [anthropic_version] not found#: required key [max_tokens] not found#: required key [messages] not found#: extraneous key [inputText] is not permitted" + tail},
		{Name: "missing max_tokens", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","messages":[{"role":"user","content":"Hi"}]}`,
			Want: mal + "#: required key [max_tokens] not found" + tail},
		{Name: "extraneous key", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"foo":1,"messages":[{"role":"user","content":"Hi"}]}`,
			Want: mal + "#: extraneous key [foo] is not permitted" + tail},
		{Name: "wrong version", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-06-01","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}`,
			Want: mal + "#/anthropic_version: bedrock-2023-06-01 is not a valid enum value" + tail},
		{Name: "version not a date", Codec: Messages{}, Body: `{"anthropic_version":"2026-13-45","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}`,
			Want: mal + "#/anthropic_version: 2026-13-45 is not a valid enum value" + tail},
		{Name: "version a number", Codec: Messages{}, Body: `{"anthropic_version":20230531,"max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}`,
			Want: mal + "#/anthropic_version: expected type: String, found: Integer" + tail},
		{Name: "max_tokens zero", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":0,"messages":[{"role":"user","content":"Hi"}]}`,
			Want: mal + "#/max_tokens: 0 is not greater or equal to 1" + tail},
		{Name: "temperature and top_k out of range", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"temperature":2,"top_k":501,"messages":[{"role":"user","content":"Hi"}]}`,
			Want: mal + "#/temperature: 2 is not less or equal to 1#/top_k: 501 is not less or equal to 500" + tail},
		{Name: "system role message", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"system","content":"Hi"}]}`,
			Want: mal + "#/messages/0/role: system is not a valid enum value" + tail},
		{Name: "content number", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":5}]}`,
			Want: mal + "#/messages/0/content: expected type: one of [String, JSONArray], found: Integer" + tail},
		{Name: "no messages", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[]}`,
			Want: "messages: at least one message is required"},
		{Name: "assistant first", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"assistant","content":"Hi"}]}`,
			Want: `messages: first message must use the "user" role`},
		{Name: "empty text", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":""}]}]}`,
			Want: "messages: text content blocks must be non-empty"},
		{Name: "unknown block", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":[{"type":"video"}]}]}`,
			Want: "messages.0.content.0: Input tag 'video' found using 'type' does not match any of the expected tags: 'text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking'"},
		{Name: "orphan tool_result", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_9","content":"x"}]}]}`,
			Want: "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_9. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."},
		{Name: "tool_use without result", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},{"role":"user","content":"y"}]}`,
			Want: "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1. Each `tool_use` block must have a corresponding `tool_result` block in the next message."},
		{Name: "trailing whitespace prefill", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"Sure "}]}`,
			Want: "messages: final assistant content cannot end with trailing whitespace"},
		{Name: "tool_choice unknown tool", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"g"},"messages":[{"role":"user","content":"x"}]}`,
			Want: "tool_choice.name: Tool 'g' not found in provided tools"},
		{Name: "bad image type", Codec: Messages{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":""}}]}]}`,
			Want: "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"},
	})
}

func TestDecodeText(t *testing.T) {
	familytest.Decode(t, []familytest.DecodeCase{
		{Name: "one turn", Codec: Text{}, Body: `{"prompt":"\n\nHuman: Hi there\n\nAssistant:","max_tokens_to_sample":300,"temperature":0.5,"top_k":250,"top_p":1,"stop_sequences":["\n\nHuman:"],"anthropic_version":"bedrock-2023-05-31"}`,
			Want: &provider.Request{MaxTokens: 300, Temperature: familytest.Float(0.5), TopK: familytest.Int(250), TopP: familytest.Float(1), StopSequences: []string{"\n\nHuman:"},
				Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("Hi there")}}}}},
		{Name: "system, history, prefill", Codec: Text{}, Body: `{"prompt":"Be a pirate.\n\nHuman: Hi\n\nAssistant: Arr.\n\nHuman: More\n\nHuman: please\n\nAssistant: Aye,","max_tokens_to_sample":5}`,
			Want: &provider.Request{MaxTokens: 5, System: []provider.Block{text("Be a pirate.")},
				Messages: []provider.Message{
					{Role: provider.User, Content: []provider.Block{text("Hi")}},
					{Role: provider.Assistant, Content: []provider.Block{text("Arr.")}},
					{Role: provider.User, Content: []provider.Block{text("More\n\nplease")}},
					{Role: provider.Assistant, Content: []provider.Block{text("Aye,")}},
				}}},
	})
}

func TestDecodeTextErrors(t *testing.T) {
	familytest.DecodeErrors(t, []familytest.ErrorCase{
		{Name: "no human turn", Codec: Text{}, Body: `{"prompt":"Hello","max_tokens_to_sample":5}`, Want: `prompt must start with "\n\nHuman:" turn`},
		{Name: "no assistant turn", Codec: Text{}, Body: `{"prompt":"\n\nHuman: Hello","max_tokens_to_sample":5}`, Want: `prompt must end with "\n\nAssistant:" turn`},
		{Name: "messages body", Codec: Text{}, Body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}`,
			Want: mal + `#: required key [prompt] not found#: required key [max_tokens_to_sample] not found#: subject must not be valid against schema {"required":["messages"]}` + tail},
		{Name: "max_tokens_to_sample string", Codec: Text{}, Body: `{"prompt":"\n\nHuman: a\n\nAssistant:","max_tokens_to_sample":"5"}`,
			Want: mal + "#/max_tokens_to_sample: expected type: Integer, found: String" + tail},
	})
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
	familytest.Responses(t, *update, []familytest.ResponseCase{
		{Name: "messages_text", Codec: Messages{NewID: fixedID}, Req: req, Resp: familytest.TextResponse()},
		{Name: "messages_tool_use", Codec: Messages{NewID: fixedID}, Req: req, Resp: familytest.ToolResponse()},
		{Name: "messages_max_tokens", Codec: Messages{NewID: fixedID}, Req: req, Resp: familytest.MaxTokensResponse()},
		{Name: "messages_stop_sequence", Codec: Messages{NewID: fixedID}, Req: req, Resp: familytest.StopSequenceResponse()},
		{Name: "messages_thinking", Codec: Messages{NewID: fixedID}, Req: req, Resp: reasoningResponse()},
		{Name: "text_end_turn", Codec: Text{}, Req: req, Resp: familytest.TextResponse()},
		{Name: "text_max_tokens", Codec: Text{}, Req: req, Resp: familytest.MaxTokensResponse()},
		{Name: "text_stop_sequence", Codec: Text{}, Req: req, Resp: familytest.StopSequenceResponse()},
	})
}

func TestStream(t *testing.T) {
	req := &provider.Request{Model: "claude-3-haiku-20240307"}
	familytest.Streams(t, *update, []familytest.StreamCase{
		{Name: "messages_text", Codec: Messages{NewID: fixedID}, Req: req, Events: familytest.TextEvents()},
		{Name: "messages_tool_use", Codec: Messages{NewID: fixedID}, Req: req, Events: familytest.ToolEvents()},
		{Name: "messages_thinking", Codec: Messages{NewID: fixedID}, Req: req, Events: familytest.ReasoningEvents()},
		{Name: "text", Codec: Text{}, Req: req, Events: familytest.TextEvents()},
	})
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

// Claude 2.x on Bedrock reads Messages bodies as well as Text Completions
// ones; the text codec hands the former to Messages.
func TestTextFor(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       string
	}{
		{"text", `{"prompt":"\n\nHuman: Hi\n\nAssistant:","max_tokens_to_sample":10}`, "anthropic-text"},
		{"messages", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"Hi"}]}`, "anthropic-messages"},
		{"both", `{"prompt":"\n\nHuman: Hi\n\nAssistant:","max_tokens_to_sample":10,"messages":[]}`, "anthropic-text"},
		{"not json", `nope`, "anthropic-text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (Text{}).For([]byte(tc.body)).Name(); got != tc.want {
				t.Errorf("Text.For(%s) = %s, want %s", tc.body, got, tc.want)
			}
		})
	}
}
