package chat

import (
	"testing"
)

// FuzzParseRender feeds arbitrary template sources through Parse and
// Render: they must return errors, never panic or hang.
func FuzzParseRender(f *testing.F) {
	for _, name := range []string{"smollm2.jinja", "qwen2.5.jinja", "llama3.jinja", "mistral.jinja"} {
		f.Add(string(readTestdata(f, name)))
	}
	f.Add(`{% set ns = namespace(a=1) %}{{ ns.a | tojson }}{{ messages | tojson(indent=1) }}`)
	f.Add(`{% for k, v in tools[0].function.parameters.items() %}{{ k }}{% endfor %}`)
	f.Add(`{{ raise_exception('x') }}{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1) }}`)
	msgs := []Message{
		{Role: "system", Content: "s"},
		{Role: "user", Content: "u {{ x }}"},
		{Role: "assistant", ToolCalls: []ToolCall{{ID: "1", Name: "f", Arguments: []byte(`{"a": [1, 2.5, null]}`)}}},
		{Role: "tool", Content: "r", ToolCallID: "1"},
	}
	opts := Options{BOS: "<s>", EOS: "</s>", AddGenerationPrompt: true,
		Tools: []Tool{{Name: "f", Description: "d", Parameters: []byte(`{"type": "object"}`)}}}
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := Parse(src)
		if err != nil {
			return
		}
		_, _ = tpl.Render(msgs, opts)
	})
}
