package cohere

import (
	"encoding/json"
	"flag"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/family/familytest"
	"github.com/outcrop/outcrop/internal/provider"
)

var update = flag.Bool("update", false, "rewrite golden files")

// counter returns IDs id-1, id-2, ... so goldens are stable.
func counter() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("id-%d", n) }
}

func text(s string) provider.Block { return provider.Block{Type: provider.TextBlock, Text: s} }

func TestDecodeRequest(t *testing.T) {
	weather := json.RawMessage(`{"properties":{"city":{"description":"City","type":"string"}},"required":["city"],"type":"object"}`)
	familytest.Decode(t, []familytest.DecodeCase{
		{Name: "command", Codec: Command{}, Body: `{"prompt":"Write a haiku.","temperature":0.9,"p":0.5,"k":10,"max_tokens":50,"stop_sequences":["--"],"return_likelihoods":"NONE","stream":true,"num_generations":1,"truncate":"END"}`,
			Want: &provider.Request{Raw: true, Prompt: "Write a haiku.", Temperature: familytest.Float(0.9), TopP: familytest.Float(0.5), TopK: familytest.Int(10), MaxTokens: 50, StopSequences: []string{"--"},
				PromptChat: familytest.Chat("", "Write a haiku.")}},
		{Name: "command default max_tokens", Codec: Command{}, Body: `{"prompt":"x"}`, Want: &provider.Request{Raw: true, Prompt: "x", MaxTokens: 20, PromptChat: familytest.Chat("", "x")}},
		{Name: "command-r chat", Codec: CommandR{}, Body: `{"message":"And now?","preamble":"Be brief.","chat_history":[{"role":"USER","message":"Hi"},{"role":"CHATBOT","message":"Hello"},{"role":"SYSTEM","message":"Stay polite."}],"max_tokens":100,"seed":7}`,
			Want: &provider.Request{MaxTokens: 100, Seed: func() *int64 { v := int64(7); return &v }(),
				System: []provider.Block{text("Be brief."), text("Stay polite.")},
				Messages: []provider.Message{
					{Role: provider.User, Content: []provider.Block{text("Hi")}},
					{Role: provider.Assistant, Content: []provider.Block{text("Hello")}},
					{Role: provider.User, Content: []provider.Block{text("And now?")}},
				}}},
		{Name: "command-r documents", Codec: CommandR{}, Body: `{"message":"Summarise.","documents":[{"title":"A","snippet":"alpha"}]}`,
			Want: &provider.Request{Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{
				{Type: provider.DocumentBlock, Document: &provider.Document{Format: "txt", Name: "doc_0", Text: "snippet: alpha\ntitle: A\n"}},
				text("Summarise."),
			}}}}},
		{Name: "command-r tools", Codec: CommandR{}, Body: `{"message":"","tools":[{"name":"get_weather","description":"Weather","parameter_definitions":{"city":{"description":"City","type":"str","required":true}}}],
			"chat_history":[{"role":"USER","message":"Weather in Paris?"},{"role":"CHATBOT","message":"","tool_calls":[{"name":"get_weather","parameters":{"city":"Paris"}}]}],
			"tool_results":[{"call":{"name":"get_weather","parameters":{"city":"Paris"}},"outputs":[{"temp":18}]}]}`,
			Want: &provider.Request{
				Tools: []provider.Tool{{Name: "get_weather", Description: "Weather", Schema: weather}},
				Messages: []provider.Message{
					{Role: provider.User, Content: []provider.Block{text("Weather in Paris?")}},
					{Role: provider.Assistant, Content: []provider.Block{{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: "call_1", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}}}},
					{Role: provider.User, Content: []provider.Block{{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{ToolUseID: "call_1",
						Content: []provider.Block{{Type: provider.JSONBlock, JSON: json.RawMessage(`{"temp":18}`)}}}}}},
				}}},
	})
}

func TestDecodeEmbed(t *testing.T) {
	got, err := Embed{}.DecodeEmbed([]byte(`{"texts":["a","b"],"input_type":"search_document","truncate":"END","embedding_types":["float","int8"],"output_dimension":512}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &provider.EmbedRequest{Texts: []string{"a", "b"}, InputType: "search_document", Normalize: true, Dimensions: 512, Types: []string{"float", "int8"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeEmbed mismatch (-want +got):\n%s", diff)
	}
}

const mal, tail = "Malformed input request: ", ", please reformat your input and try again."

func TestDecodeErrors(t *testing.T) {
	familytest.DecodeErrors(t, []familytest.ErrorCase{
		{Name: "command top_k", Codec: Command{}, Body: `{"prompt":"x","top_k":5}`, Want: mal + "#: extraneous key [top_k] is not permitted" + tail},
		{Name: "command too many stops", Codec: Command{}, Body: `{"prompt":"x","stop_sequences":["a","b","c","d","e"]}`, Want: mal + "#/stop_sequences: expected maximum item count: 4, found: 5" + tail},
		{Name: "command temperature", Codec: Command{}, Body: `{"prompt":"x","temperature":6}`, Want: mal + "#/temperature: 6 is not less or equal to 5" + tail},
		{Name: "command num_generations", Codec: Command{}, Body: `{"prompt":"x","num_generations":3}`, Want: "num_generations greater than 1 is not supported. Set num_generations to 1 and try again."},
		{Name: "command-r top_k", Codec: CommandR{}, Body: `{"message":"x","top_k":5}`, Want: mal + "#: extraneous key [top_k] is not permitted" + tail},
		{Name: "command-r missing message", Codec: CommandR{}, Body: `{"chat_history":[]}`, Want: mal + "#: required key [message] not found" + tail},
		{Name: "command-r bad role", Codec: CommandR{}, Body: `{"message":"x","chat_history":[{"role":"user","message":"hi"}]}`, Want: mal + "#/chat_history/0/role: user is not a valid enum value" + tail},
		{Name: "command-r p", Codec: CommandR{}, Body: `{"message":"x","p":1}`, Want: mal + "#/p: 1 is not less or equal to 0.99" + tail},
		{Name: "command-r search queries", Codec: CommandR{}, Body: `{"message":"x","search_queries_only":true}`, Want: "search_queries_only is not supported by this model. Remove it and try again."},
		{Name: "command-r claude body", Codec: CommandR{}, Body: `{"anthropic_version":"bedrock-2023-05-31","messages":[]}`,
			Want: mal + "#: required key [message] not found#: extraneous key [anthropic_version] is not permitted#: extraneous key [messages] is not permitted" + tail},
	})
}

func TestDecodeEmbedErrors(t *testing.T) {
	familytest.DecodeErrors(t, []familytest.ErrorCase{
		{Name: "missing input_type", Codec: Embed{}, Body: `{"texts":["a"]}`, Want: mal + "#: required key [input_type] not found" + tail},
		{Name: "bad input_type", Codec: Embed{}, Body: `{"texts":["a"],"input_type":"query"}`, Want: mal + "#/input_type: query is not a valid enum value" + tail},
		{Name: "bad embedding type", Codec: Embed{}, Body: `{"texts":["a"],"input_type":"clustering","embedding_types":["int4"]}`, Want: mal + "#/embedding_types/0: int4 is not a valid enum value" + tail},
		{Name: "titan body", Codec: Embed{}, Body: `{"inputText":"a"}`, Want: mal + "#: required key [texts] not found#: required key [input_type] not found#: extraneous key [inputText] is not permitted" + tail},
		{Name: "images", Codec: Embed{}, Body: `{"texts":[],"images":["data:image/png;base64,AAAA"],"input_type":"search_document"}`, Want: "This model doesn't support image input. Try again with texts."},
	})
}

func TestEncodeResponse(t *testing.T) {
	chat := &provider.Request{Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("Hi")}}}}
	raw := &provider.Request{Raw: true, Prompt: "Say hello."}
	familytest.Responses(t, *update, []familytest.ResponseCase{
		{Name: "command_complete", Codec: Command{NewID: counter()}, Req: raw, Resp: familytest.TextResponse()},
		{Name: "command_max_tokens", Codec: Command{NewID: counter()}, Req: raw, Resp: familytest.MaxTokensResponse()},
		{Name: "command_r_text", Codec: CommandR{NewID: counter()}, Req: chat, Resp: familytest.TextResponse()},
		{Name: "command_r_tool_calls", Codec: CommandR{NewID: counter()}, Req: chat, Resp: familytest.ToolResponse()},
	})
}

func TestEncodeEmbed(t *testing.T) {
	resp := &provider.EmbedResponse{Vectors: [][]float32{{0.5, -0.25, 0, 0.125, 1, -1, 0.5, 0.5, -0.5}, {0.1, 0.2, 0.3, -0.4, 0, 0, 0, 0, 0.9}}, InputTokens: 4}
	tests := []struct{ name, body string }{
		{"floats", `{"texts":["a","b"],"input_type":"search_query"}`},
		{"by_type", `{"texts":["a","b"],"input_type":"search_query","embedding_types":["float","int8","uint8","binary","ubinary"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Embed{NewID: counter()}
			req, err := c.DecodeEmbed([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			b, err := c.EncodeEmbed(req, resp)
			if err != nil {
				t.Fatal(err)
			}
			familytest.Golden(t, "testdata/embed_"+tt.name+".json", b, *update)
		})
	}
}

func TestStream(t *testing.T) {
	chat := &provider.Request{Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("Hi")}}}}
	familytest.Streams(t, *update, []familytest.StreamCase{
		{Name: "command_text", Codec: Command{NewID: counter()}, Req: chat, Events: familytest.TextEvents()},
		{Name: "command_r_text", Codec: CommandR{NewID: counter()}, Req: chat, Events: familytest.TextEvents()},
		{Name: "command_r_tool_calls", Codec: CommandR{NewID: counter()}, Req: chat, Events: familytest.ToolEvents()},
	})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"prompt":"Write a haiku.","temperature":0.9,"p":0.5,"k":10,"max_tokens":50,"stop_sequences":["--"],"num_generations":1}`))
	f.Add([]byte(`{"message":"","tools":[{"name":"f","parameter_definitions":{"a":{"type":"List[str]","required":true}}}],"chat_history":[{"role":"USER","message":"q"},{"role":"CHATBOT","tool_calls":[{"name":"f","parameters":{"a":1}}]},{"role":"TOOL","tool_results":[{"call":{"name":"g"},"outputs":[{}]}]}],"tool_results":[{"call":{"name":"f","parameters":{"a":1}},"outputs":[{"x":1}]}],"documents":[{"id":"d","snippet":"s"}]}`))
	f.Add([]byte(`{"texts":["a"],"input_type":"clustering","embedding_types":["binary","ubinary","int8","uint8","float"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		familytest.FuzzChat(t, Command{}, body)
		familytest.FuzzChat(t, CommandR{}, body)
		familytest.FuzzEmbed(t, Embed{}, body)
	})
}
