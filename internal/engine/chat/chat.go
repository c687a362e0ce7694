// Package chat renders a conversation into a model's prompt text with the
// model's own chat template: the Jinja source GGUF files carry under
// tokenizer.chat_template, rendered the way Python Jinja2 and transformers'
// apply_chat_template render it, or a hand-written fallback for the ChatML,
// Llama 3 and Mistral formats when a model has no usable template.
//
// Templates come from model files and are untrusted: they can read no files,
// their output is bounded, and a failure is an error, never a panic.
// A Template is safe for concurrent use.
package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Message is one turn of a conversation.
type Message struct {
	Role       string     // "system", "user", "assistant" or "tool"
	Content    string     // text
	ToolCalls  []ToolCall // calls an assistant turn made
	ToolCallID string     // the call a "tool" turn answers
	Name       string     // tool name of a "tool" turn, when known
}

// ToolCall is a function call made by the assistant.
type ToolCall struct {
	ID        string
	Name      string
	Arguments json.RawMessage // a JSON object, normally
}

// Tool is a function the model may call.
type Tool struct {
	Name        string
	Description string
	Parameters  json.RawMessage // JSON schema of the arguments
}

// Options are the template variables besides the messages.
type Options struct {
	BOS, EOS            string // texts of the BOS and EOS tokens (bos_token, eos_token)
	AddGenerationPrompt bool   // end with the header of an assistant turn
	Tools               []Tool // offered tools; templates without tool support ignore them
}

// Limits on untrusted templates.
const (
	maxSource = 1 << 20 // template source bytes
	maxOutput = 4 << 20 // rendered bytes
)

// Template renders conversations in one model's prompt format.
type Template struct {
	tpl    *exec.Template // nil for a fallback
	family string         // fallback family when tpl is nil
	tools  bool
	system bool
	now    func() time.Time // strftime_now's clock; tests pin it
}

// Parse compiles a Jinja chat template. It fails when the source does not
// parse or exceeds 1 MiB; callers then use Fallback(Detect(src)).
func Parse(src string) (t *Template, err error) {
	if len(src) > maxSource {
		return nil, fmt.Errorf("chat: template is %d bytes, over the %d limit", len(src), maxSource)
	}
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("chat: parse template: panic: %v", r)
		}
	}()
	t = &Template{tools: strings.Contains(src, "tools"), now: time.Now}
	t.tpl, err = exec.NewTemplate(rootName, newConfig(), sourceLoader(src), newEnvironment(func() time.Time { return t.now() }))
	if err != nil {
		return nil, fmt.Errorf("chat: parse template: %w", err)
	}
	_, err = t.Render([]Message{{Role: "system", Content: "s"}, {Role: "user", Content: "u"}}, Options{})
	t.system = err == nil
	return t, nil
}

// Load parses src and falls back to the format Detect guesses when src is
// empty or fails to parse.
func Load(src string) *Template {
	if strings.TrimSpace(src) != "" {
		if t, err := Parse(src); err == nil {
			return t
		}
	}
	return Fallback(Detect(src))
}

// Render returns the prompt text for msgs.
func (t *Template) Render(msgs []Message, opts Options) (out string, err error) {
	if t.tpl == nil {
		return renderFallback(t.family, msgs, opts)
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("chat: render template: panic: %v", r)
		}
	}()
	w := &limitWriter{max: maxOutput}
	if err := t.tpl.Execute(w, exec.NewContext(variables(msgs, opts))); err != nil {
		if w.over {
			return "", fmt.Errorf("chat: render template: output over %d bytes", maxOutput)
		}
		return "", fmt.Errorf("chat: render template: %w", err)
	}
	if w.over {
		return "", fmt.Errorf("chat: render template: output over %d bytes", maxOutput)
	}
	return w.b.String(), nil
}

// SupportsTools reports whether the template renders tool definitions.
func (t *Template) SupportsTools() bool { return t.tools }

// SupportsSystem reports whether the template accepts a system message;
// it is false when the template raises on one (some Mistral and Gemma
// templates), so callers can fold the system text into the first user turn.
func (t *Template) SupportsSystem() bool { return t.system }

// variables builds the template context the way transformers does: a list
// of message dicts, the tools as OpenAI-style function dicts, and the
// special token texts.
func variables(msgs []Message, opts Options) map[string]any {
	ms := make([]any, len(msgs))
	for i, m := range msgs {
		ms[i] = messageDict(m)
	}
	vars := map[string]any{
		"messages":              ms,
		"add_generation_prompt": opts.AddGenerationPrompt,
		"bos_token":             opts.BOS,
		"eos_token":             opts.EOS,
	}
	if len(opts.Tools) > 0 {
		tools := make([]any, len(opts.Tools))
		for i, tl := range opts.Tools {
			tools[i] = dict(
				"type", "function",
				"function", dict("name", tl.Name, "description", tl.Description, "parameters", jsonValue(tl.Parameters)),
			)
		}
		vars["tools"] = tools
	}
	return vars
}

// messageDict is {"role", "content"} plus "tool_calls", "tool_call_id" and
// "name" when set, so `is defined` tests behave as with transformers.
func messageDict(m Message) *exec.Dict {
	d := dict("role", m.Role, "content", m.Content)
	if len(m.ToolCalls) > 0 {
		calls := make([]any, len(m.ToolCalls))
		for i, c := range m.ToolCalls {
			call := &exec.Dict{}
			if c.ID != "" {
				addPair(call, "id", c.ID)
			}
			addPair(call, "type", "function")
			addPair(call, "function", dict("name", c.Name, "arguments", jsonValue(c.Arguments)))
			calls[i] = call
		}
		addPair(d, "tool_calls", calls)
	}
	if m.ToolCallID != "" {
		addPair(d, "tool_call_id", m.ToolCallID)
	}
	if m.Name != "" {
		addPair(d, "name", m.Name)
	}
	return d
}

// dict builds an ordered dict from key, value pairs.
func dict(kv ...any) *exec.Dict {
	d := &exec.Dict{Pairs: make([]*exec.Pair, 0, len(kv)/2)}
	for i := 0; i+1 < len(kv); i += 2 {
		addPair(d, kv[i].(string), kv[i+1])
	}
	return d
}

func addPair(d *exec.Dict, k string, v any) {
	d.Pairs = append(d.Pairs, &exec.Pair{Key: exec.AsValue(k), Value: exec.AsValue(v)})
}

// limitWriter collects output and fails once it exceeds max bytes.
type limitWriter struct {
	b    strings.Builder
	max  int
	over bool
}

var errTooLong = errors.New("output too long")

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.over || w.b.Len()+len(p) > w.max {
		w.over = true
		return 0, errTooLong
	}
	return w.b.Write(p)
}

var _ io.Writer = (*limitWriter)(nil)
