package openaichat

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/family/familytest"
	"github.com/outcrop/outcrop/internal/provider"
)

var wording = Wording{
	MissingToolCallID: func(msg int) string { return fmt.Sprintf("no id at %d", msg) },
	BadArguments:      func(msg int, id string) string { return fmt.Sprintf("bad arguments of %s at %d", id, msg) },
}

func text(s string) provider.Block { return provider.Block{Type: provider.TextBlock, Text: s} }

func use(id, input string) provider.Block {
	return provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: id, Name: "f", Input: json.RawMessage(input)}}
}

func TestConversation(t *testing.T) {
	tests := []struct {
		name, msgs string
		want       *provider.Request
		err        string
	}{
		{"roles merge", `[{"role":"system","content":"s"},{"role":"user","content":"a"},{"role":"user","content":null}]`,
			&provider.Request{System: []provider.Block{text("s")}, Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{text("a"), text("")}}}}, ""},
		{"argument forms", `[{"role":"assistant","content":"x","tool_calls":[{"id":"1","function":{"name":"f","arguments":"{\"a\":1}"}},{"id":"2","function":{"name":"f","arguments":" "}},{"id":"3","function":{"name":"f","arguments":{"b":2}}}]},{"role":"tool","tool_call_id":"1","content":"r"}]`,
			&provider.Request{Messages: []provider.Message{
				{Role: provider.Assistant, Content: []provider.Block{text("x"), use("1", `{"a":1}`), use("2", "{}"), use("3", `{"b":2}`)}},
				{Role: provider.User, Content: []provider.Block{{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{ToolUseID: "1", Content: []provider.Block{text("r")}}}}},
			}}, ""},
		{"tool without id", `[{"role":"user","content":"a"},{"role":"tool","content":"r"}]`, nil, "no id at 1"},
		{"arguments not an object", `[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"[1]"}}]}]`, nil, "bad arguments of c at 0"},
		{"null arguments", `[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"null"}}]}]`, nil, "bad arguments of c at 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var msgs []Message
			if err := json.Unmarshal([]byte(tt.msgs), &msgs); err != nil {
				t.Fatal(err)
			}
			got := &provider.Request{}
			err := wording.Conversation(got, msgs)
			if tt.err != "" {
				familytest.Invalid(t, err, tt.err)
				return
			}
			if err != nil {
				t.Fatalf("Conversation(%s): %v", tt.msgs, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Conversation(%s) mismatch (-want +got):\n%s", tt.msgs, diff)
			}
		})
	}
}

func TestTools(t *testing.T) {
	var ts []Tool
	if err := json.Unmarshal([]byte(`[{"function":{"name":"f","description":"d","parameters":{"type":"object"}}},{"function":{"name":"g"}}]`), &ts); err != nil {
		t.Fatal(err)
	}
	want := []provider.Tool{
		{Name: "f", Description: "d", Schema: json.RawMessage(`{"type":"object"}`)},
		{Name: "g", Schema: json.RawMessage(`{"type":"object","properties":{}}`)},
	}
	if diff := cmp.Diff(want, Tools(ts)); diff != "" {
		t.Errorf("Tools mismatch (-want +got):\n%s", diff)
	}
}

func TestFinishReason(t *testing.T) {
	for r, want := range map[provider.StopReason]string{
		provider.EndTurn: "stop", provider.StopSequence: "stop", provider.MaxTokens: "length",
		provider.ContextWindow: "length", provider.ToolUseStop: "tool_calls",
	} {
		if got := FinishReason(r); got != want {
			t.Errorf("FinishReason(%q) = %q, want %q", r, got, want)
		}
	}
}
