package completion

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/family/familytest"
	"github.com/outcrop/outcrop/internal/provider"
)

func TestRequest(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		def  int
		want *provider.Request
	}{
		{"default", Params{Prompt: "x"}, 16, &provider.Request{Raw: true, Prompt: "x", MaxTokens: 16}},
		{"zero keeps default", Params{Prompt: "x", MaxTokens: familytest.Int(0)}, 16, &provider.Request{Raw: true, Prompt: "x", MaxTokens: 16}},
		{"all", Params{Prompt: "x", Temperature: familytest.Float(0.5), TopP: familytest.Float(0.9), TopK: familytest.Int(5), MaxTokens: familytest.Int(7), Stop: []string{"##"}}, 16,
			&provider.Request{Raw: true, Prompt: "x", Temperature: familytest.Float(0.5), TopP: familytest.Float(0.9), TopK: familytest.Int(5), MaxTokens: 7, StopSequences: []string{"##"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.p.Request(tt.def)); diff != "" {
				t.Errorf("%+v.Request(%d) mismatch (-want +got):\n%s", tt.p, tt.def, diff)
			}
		})
	}
}

func TestStream(t *testing.T) {
	newStream := func(tools bool) *Stream[string] {
		s := &Stream[string]{
			Delta: func(text string) string { return "delta " + text },
			Final: func(e End) string {
				return fmt.Sprintf("final %s %q %d/%d", e.Reason, e.Sequence, e.Usage.InputTokens, e.Usage.OutputTokens)
			},
		}
		if tools {
			s.Tool = func(u *provider.ToolUse, in string) string { return "tool " + u.Name + " " + in }
		}
		return s
	}
	noInput := []provider.Event{
		{Type: provider.BlockStartEvent, Index: 0, ToolUse: &provider.ToolUse{ID: "t", Name: "f"}},
		{Type: provider.BlockStopEvent, Index: 0},
		{Type: provider.MessageStopEvent, StopReason: provider.StopSequence, StopSequence: "##"},
		{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: 1, OutputTokens: 2}},
	}
	tests := []struct {
		name  string
		tools bool
		evs   []provider.Event
		want  string
	}{
		{"text", false, familytest.TextEvents(), `"delta Hello"` + "\n" + `"delta , world."` + "\n" + `"final end_turn \"\" 12/4"` + "\n"},
		{"tools ignored", false, familytest.ToolEvents(), `"delta Let me check."` + "\n" + `"final tool_use \"\" 30/15"` + "\n"},
		{"tools", true, familytest.ToolEvents(),
			`"delta Let me check."` + "\n" + `"tool get_weather {\"city\":\"Paris\"}"` + "\n" + `"final tool_use \"\" 30/15"` + "\n"},
		{"empty tool input", true, noInput, `"tool f {}"` + "\n" + `"final stop_sequence \"##\" 1/2"` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got strings.Builder
			s := newStream(tt.tools)
			for _, ev := range tt.evs {
				cs, err := s.Chunks(ev)
				if err != nil {
					t.Fatalf("Chunks(%+v): %v", ev, err)
				}
				for _, c := range cs {
					got.Write(c)
					got.WriteByte('\n')
				}
			}
			if diff := cmp.Diff(tt.want, got.String()); diff != "" {
				t.Errorf("chunks mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
