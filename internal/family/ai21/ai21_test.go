package ai21

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

func fixedID() string { return "chatcmpl-TEST" }

func fixedNum() int64 { return 1234 }

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name  string
		codec family.ChatCodec
		body  string
		want  *provider.Request
	}{
		{"jamba", Jamba{}, `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":100,"temperature":1.5,"top_p":0.9,"stop":"END","n":1}`,
			&provider.Request{MaxTokens: 100, Temperature: familytest.Float(1.5), TopP: familytest.Float(0.9), StopSequences: []string{"END"},
				System: []provider.Block{text("Be brief.")}, Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("Hi")}}}}},
		{"jamba tools", Jamba{}, `{"messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"18C"}],
			"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],"stop":["a","b"],"response_format":{"type":"json_object"}}`,
			&provider.Request{StopSequences: []string{"a", "b"}, Extra: json.RawMessage(`{"response_format":{"type":"json_object"}}`),
				Tools: []provider.Tool{{Name: "get_weather", Schema: json.RawMessage(`{"type":"object"}`)}},
				Messages: []provider.Message{
					{Role: provider.User, Content: []provider.Block{text("Weather?")}},
					{Role: provider.Assistant, Content: []provider.Block{{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: "c1", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}}}},
					{Role: provider.User, Content: []provider.Block{{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{ToolUseID: "c1", Content: []provider.Block{text("18C")}}}}},
				}}},
		{"j2", J2{}, `{"prompt":"Write a poem.","maxTokens":200,"temperature":0.7,"topP":1,"stopSequences":["##"],"countPenalty":{"scale":0},"presencePenalty":{"scale":0.5,"applyToEmojis":false},"frequencyPenalty":{"scale":0}}`,
			&provider.Request{Raw: true, Prompt: "Write a poem.", MaxTokens: 200, Temperature: familytest.Float(0.7), TopP: familytest.Float(1), StopSequences: []string{"##"}}},
		{"j2 default maxTokens", J2{}, `{"prompt":"x"}`, &provider.Request{Raw: true, Prompt: "x", MaxTokens: 16}},
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
		{"j2 nulls", J2{}, `{"prompt":"x","temperature":null,"maxTokens":null,"topP":null}`,
			mal + "#/temperature: expected type: Number, found: Null#/maxTokens: expected type: Integer, found: Null#/topP: expected type: Number, found: Null" + tail},
		{"j2 penalty key", J2{}, `{"prompt":"x","countPenalty":{"scale":1,"applyToEverything":true}}`,
			mal + "#/countPenalty: extraneous key [applyToEverything] is not permitted" + tail},
		{"j2 numResults", J2{}, `{"prompt":"x","numResults":2}`, "numResults greater than 1 is not supported. Set numResults to 1 and try again."},
		{"j2 jamba body", J2{}, `{"messages":[{"role":"user","content":"x"}]}`, mal + "#: required key [prompt] not found#: extraneous key [messages] is not permitted" + tail},
		{"jamba j2 body", Jamba{}, `{"prompt":"x","maxTokens":5}`, mal + "#: required key [messages] not found#: extraneous key [maxTokens] is not permitted#: extraneous key [prompt] is not permitted" + tail},
		{"jamba temperature", Jamba{}, `{"messages":[{"role":"user","content":"x"}],"temperature":2.5}`, mal + "#/temperature: 2.5 is not less or equal to 2" + tail},
		{"jamba n", Jamba{}, `{"messages":[{"role":"user","content":"x"}],"n":2}`, "n greater than 1 is not supported. Set n to 1 and try again."},
		{"jamba stop number", Jamba{}, `{"messages":[{"role":"user","content":"x"}],"stop":5}`, mal + "#/stop: expected type: one of [String, JSONArray], found: Integer" + tail},
		{"jamba tool without id", Jamba{}, `{"messages":[{"role":"tool","content":"x"}]}`, "messages.0.tool_call_id: field required for tool messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.codec.DecodeRequest([]byte(tt.body))
			familytest.Invalid(t, err, tt.want)
		})
	}
}

func TestEncodeResponse(t *testing.T) {
	req := &provider.Request{Model: "jamba-1.5-mini", Raw: true, Prompt: "Write a poem.", MaxTokens: 3}
	tests := []struct {
		name  string
		codec family.ChatCodec
		resp  *provider.Response
	}{
		{"jamba_text", Jamba{NewID: fixedID}, familytest.TextResponse()},
		{"jamba_tool_calls", Jamba{NewID: fixedID}, familytest.ToolResponse()},
		{"j2_endoftext", J2{NewID: fixedNum}, familytest.TextResponse()},
		{"j2_length", J2{NewID: fixedNum}, familytest.MaxTokensResponse()},
		{"j2_stop", J2{NewID: fixedNum}, familytest.StopSequenceResponse()},
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
	req := &provider.Request{Model: "jamba-1.5-mini"}
	tests := []struct {
		name string
		evs  []provider.Event
	}{
		{"jamba_text", familytest.TextEvents()},
		{"jamba_tool_calls", familytest.ToolEvents()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := familytest.Chunks(t, Jamba{NewID: fixedID}.NewStream(req), tt.evs)
			familytest.Golden(t, "testdata/stream_"+tt.name+".jsonl", got, *update)
		})
	}
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
