package openaicompat

import (
	"encoding/json"
	"testing"

	"github.com/outcrop/outcrop/internal/wirejson/wirejsontest"
)

// FuzzAnswerJSON checks that wirejson, which decodes the upstream's
// answers, agrees with encoding/json on the answer types.
func FuzzAnswerJSON(f *testing.F) {
	for _, s := range []string{
		`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}}`,
		`{"choices":[{"index":0,"message":{"role":"assistant","content":null,"reasoning_content":"r","tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls","logprobs":{"content":[{"token":"a","logprob":-0.1,"bytes":[97],"top_logprobs":[{"token":"a","logprob":-0.1}]}]}}],"usage":{"prompt_tokens":1,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":1}}}`,
		`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-2e-3]}],"model":"e","usage":{"prompt_tokens":1,"total_tokens":1}}`,
		`{"data":[{"index":0,"embedding":"AAAAAA=="}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		wirejsontest.Same[chatResponse](t, b)
		wirejsontest.Same[embedResponse](t, b)
	})
}

// FuzzRequestJSON checks that an upstream request body, which wirejson
// encodes, is the bytes encoding/json would write, whatever text and
// schema the caller sent.
func FuzzRequestJSON(f *testing.F) {
	for _, s := range []string{"hello", "<b>&amp;</b>", "\u2028\u2029", "bad \xff utf8", "\x00\x1f\"\\/", "é😀"} {
		f.Add(s, []byte(`{"type":"object","properties":{"a":{"type":"string","description":"<x>"}}}`), 0.5)
	}
	f.Fuzz(func(t *testing.T, text string, schema []byte, temp float64) {
		if !json.Valid(schema) {
			schema = nil
		}
		idx := 0
		v := chatRequest{
			Model: text, Temperature: &temp, Stop: []string{text},
			Messages: []chatMessage{
				{Role: "system", Content: &text},
				{Role: "user", Content: []contentPart{{Type: "text", Text: text}, {Type: "image_url", ImageURL: &imageURL{URL: text}}}},
				{Role: "assistant", ToolCalls: []chatToolCall{{Index: &idx, ID: text, Type: "function", Function: functionCall{Name: text, Arguments: text}}}},
			},
			Tools:          []chatTool{{Type: "function", Function: toolFunction{Name: text, Description: text, Parameters: schema}}},
			ToolChoice:     map[string]any{"type": "function", "function": map[string]string{"name": text}},
			ResponseFormat: &responseFormat{Type: "json_schema", JSONSchema: &jsonSchema{Name: text, Schema: schema, Strict: true}},
		}
		wirejsontest.SameEncoding(t, v)
	})
}
