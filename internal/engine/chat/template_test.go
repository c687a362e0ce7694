package chat

import (
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCapabilities(t *testing.T) {
	tests := []struct {
		file          string
		tools, system bool
	}{
		{"smollm2.jinja", false, true},
		{"qwen2.5.jinja", true, true},
		{"llama3.jinja", false, true},
		{"mistral.jinja", false, false},
	}
	for _, tt := range tests {
		tpl, err := Parse(string(readTestdata(t, tt.file)))
		if err != nil {
			t.Fatal(err)
		}
		if tpl.SupportsTools() != tt.tools || tpl.SupportsSystem() != tt.system {
			t.Errorf("%s: SupportsTools, SupportsSystem = %v, %v, want %v, %v",
				tt.file, tpl.SupportsTools(), tpl.SupportsSystem(), tt.tools, tt.system)
		}
	}
}

func TestUntrustedTemplates(t *testing.T) {
	tests := []struct {
		name, src string
		parseErr  bool
	}{
		{"include", `{% include "/etc/passwd" %}`, true},
		{"extends", `{% extends "/etc/passwd" %}`, true},
		{"import", `{% import "/etc/passwd" as x %}`, true},
		{"syntax", `{% for x in %}`, true},
		{"raise", `{{ raise_exception("no system messages") }}`, false},
		{"huge output", `{% for i in range(100000) %}{% for j in range(100) %}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}{% endfor %}`, false},
		{"huge range", `{% for i in range(1000000000) %}{% endfor %}`, false},
		{"undefined call", `{{ nope() }}`, false},
	}
	for _, tt := range tests {
		tpl, err := Parse(tt.src)
		if tt.parseErr {
			if err == nil {
				if _, err = tpl.Render([]Message{{Role: "user", Content: "x"}}, Options{}); err == nil {
					t.Errorf("%s: Parse and Render succeeded, want error", tt.name)
				}
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: Parse() error: %v", tt.name, err)
		}
		if out, err := tpl.Render([]Message{{Role: "user", Content: "x"}}, Options{}); err == nil {
			t.Errorf("%s: Render() = %d bytes, want error", tt.name, len(out))
		}
	}
}

func TestTemplateFeatures(t *testing.T) {
	msgs := []Message{{Role: "user", Content: "hi"}}
	tests := []struct {
		name, src, want string
		opts            Options
	}{
		{"strftime_now", `{{ strftime_now("%Y") }}`, time.Now().Format("2006"), Options{}},
		{"bos eos", `{{ bos_token }}|{{ eos_token }}`, "<s>|</s>", Options{BOS: "<s>", EOS: "</s>"}},
		{"tojson indent", `{{ {"b": 1, "a": [1, 2]} | tojson(indent=2) }}`, "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2\n  ]\n}", Options{}},
		{"tojson sort_keys", `{{ {"b": 1, "a": "é"} | tojson(sort_keys=true) }}`, `{"a": "é", "b": 1}`, Options{}},
		{"tojson ensure_ascii", `{{ "é😀" | tojson(ensure_ascii=true) }}`, `"\u00e9\ud83d\ude00"`, Options{}},
		{"tojson html", `{{ "<a href='x'>&</a>" | tojson }}`, `"<a href='x'>&</a>"`, Options{}},
		{"items order", `{% for t in tools %}{% for k, v in t.function.parameters.items() %}{{ k }},{% endfor %}{% endfor %}`,
			"z,a,m,", Options{Tools: []Tool{{Name: "f", Parameters: []byte(`{"z": 1, "a": 2, "m": 3}`)}}}},
		{"namespace", `{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}`, "1", Options{}},
		{"tool_calls undefined", `{{ messages[0].tool_calls is defined }}`, "False", Options{}},
		{"generation prompt", `{% if add_generation_prompt %}gen{% endif %}`, "gen", Options{AddGenerationPrompt: true}},
	}
	for _, tt := range tests {
		tpl, err := Parse(tt.src)
		if err != nil {
			t.Fatalf("%s: Parse() error: %v", tt.name, err)
		}
		got, err := tpl.Render(msgs, tt.opts)
		if err != nil {
			t.Errorf("%s: Render() error: %v", tt.name, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: Render() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestPyFloat(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0.0"}, {1, "1.0"}, {-2.5, "-2.5"}, {0.1, "0.1"}, {1e-4, "0.0001"}, {1e-5, "1e-05"},
		{1.5e-7, "1.5e-07"}, {1e15, "1000000000000000.0"}, {1e16, "1e+16"}, {123456.789, "123456.789"},
		{1e21, "1e+21"}, {0.3333333333333333, "0.3333333333333333"},
	}
	for _, tt := range tests {
		if got := pyFloat(tt.f); got != tt.want {
			t.Errorf("pyFloat(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestConcurrentRender(t *testing.T) {
	tpl, err := Parse(string(readTestdata(t, "qwen2.5.jinja")))
	if err != nil {
		t.Fatal(err)
	}
	want, err := tpl.Render([]Message{{Role: "user", Content: "hi"}}, Options{AddGenerationPrompt: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				got, err := tpl.Render([]Message{{Role: "user", Content: "hi"}}, Options{AddGenerationPrompt: true})
				if err != nil || got != want {
					t.Errorf("concurrent Render() = %q, %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if !strings.Contains(want, "<|im_start|>assistant\n") {
		t.Errorf("Render() = %q, want a generation prompt", want)
	}
}
