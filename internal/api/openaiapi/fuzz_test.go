package openaiapi

import (
	"encoding/json"
	"testing"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/wirejson/wirejsontest"
)

var chatSeeds = []string{
	`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","messages":[{"role":"system","content":[{"type":"text","text":"s"}]},{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBO"}}]}]}`,
	`{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"r"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"stop":["a"],"n":1,"max_completion_tokens":3,"response_format":{"type":"text"}}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true},"temperature":0.2,"top_p":1,"seed":7,"logprobs":true,"top_logprobs":2}`,
	`{"model":"m","messages":[{"role":"developer","content":"d"}],"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"type":"object"},"strict":true}}}`,
}

// FuzzChatJSON checks that wirejson, which decodes chat requests, agrees
// with encoding/json on the request type.
func FuzzChatJSON(f *testing.F) {
	for _, s := range chatSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { wirejsontest.Same[ChatRequest](t, b) })
}

// FuzzDecodeChat checks that any body either decodes into a canonical
// request or fails with a client error, never a panic or an internal one.
func FuzzDecodeChat(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","messages":[{"role":"system","content":[{"type":"text","text":"s"}]},{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBO"}}]}]}`,
		`{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"r"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
		`{"model":"m","messages":[{"role":"user","content":"x"}],"stop":["a"],"n":1,"max_completion_tokens":3,"response_format":{"type":"text"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, req, err := DecodeChat(b)
		if err != nil {
			if k := fault.KindOf(err); k != fault.Invalid {
				t.Fatalf("DecodeChat(%q) error kind %v: %v", b, k, err)
			}
			return
		}
		for _, m := range req.Messages {
			for _, bl := range m.Content {
				if bl.ToolUse != nil && !json.Valid(bl.ToolUse.Input) {
					t.Fatalf("DecodeChat(%q): tool input %q is not JSON", b, bl.ToolUse.Input)
				}
			}
		}
	})
}
