package chat

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFallbackMatchesReference renders golden cases with the hand-written
// fallbacks; each must equal the reference template's output where the
// formats agree (ChatML differs from Qwen2.5 only in its default system
// prompt, so only cases with a system message are compared).
func TestFallbackMatchesReference(t *testing.T) {
	cases, golden := loadCases(t)
	for _, tt := range []struct{ name, family string }{
		{"qwen_system", FamilyChatML},
		{"qwen_tools_round_trip", FamilyChatML},
		{"llama3_multi", FamilyLlama3},
		{"mistral_multi", FamilyMistral},
	} {
		var c *testCase
		for i := range cases {
			if cases[i].Name == tt.name {
				c = &cases[i]
			}
		}
		if c == nil {
			t.Fatalf("no case %s", tt.name)
		}
		msgs, opts := c.input()
		got, err := Fallback(tt.family).Render(msgs, opts)
		if err != nil {
			t.Fatalf("%s: Render() error: %v", tt.name, err)
		}
		if diff := cmp.Diff(*golden[tt.name].Output, got); diff != "" {
			t.Errorf("Fallback(%q) on %s mismatch (-want +got):\n%s", tt.family, tt.name, diff)
		}
	}
}

func TestFallbackMistralFoldsSystem(t *testing.T) {
	got, err := Fallback(FamilyMistral).Render([]Message{
		{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}, {Role: "assistant", Content: "Hello"},
	}, Options{BOS: "<s>", EOS: "</s>"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "<s>[INST] Be brief.\n\nHi [/INST]Hello</s>"; got != want {
		t.Errorf("Render() = %q, want %q", got, want)
	}
}

func TestDetect(t *testing.T) {
	tests := []struct{ src, want string }{
		{"", FamilyChatML},
		{"{{ '<|im_start|>' + message.role }}", FamilyChatML},
		{"{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>' }}", FamilyLlama3},
		{"{{ '[INST] ' + message['content'] + ' [/INST]' }}", FamilyMistral},
	}
	for _, tt := range tests {
		if got := Detect(tt.src); got != tt.want {
			t.Errorf("Detect(%q) = %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestLoadFallsBack(t *testing.T) {
	if tpl := Load("{% for %}"); tpl.tpl != nil || tpl.family != FamilyChatML {
		t.Errorf("Load(bad) = %+v, want the ChatML fallback", tpl)
	}
	if tpl := Load("{% if x %}[INST]{% endif %"); tpl.family != FamilyMistral {
		t.Errorf("Load(bad mistral) family = %q, want mistral", tpl.family)
	}
	if tpl := Load("{{ messages[0].content }}"); tpl.tpl == nil {
		t.Errorf("Load(good) fell back")
	}
}
