package cohere

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/schema"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// CommandR is the cohere-command-r family. NewID, when set, replaces
// random response and generation IDs.
type CommandR struct {
	NewID func() string
}

var _ family.ChatCodec = CommandR{}

// Name returns "cohere-command-r".
func (CommandR) Name() string { return "cohere-command-r" }

var toolCallSchema = schema.Obj([]string{"name"},
	schema.P("name", schema.Str()),
	schema.P("parameters", &schema.Schema{Type: schema.Object, Open: true}),
)

var toolResultSchema = schema.Obj([]string{"call", "outputs"},
	schema.P("call", toolCallSchema),
	schema.P("outputs", schema.Arr(&schema.Schema{Type: schema.Object, Open: true})),
)

var commandRSchema = schema.Obj([]string{"message"},
	schema.P("message", schema.Str()),
	schema.P("chat_history", schema.Arr(schema.Obj([]string{"role"},
		schema.P("role", schema.Enum("USER", "CHATBOT", "SYSTEM", "TOOL")),
		schema.P("message", schema.Str()),
		schema.P("tool_calls", schema.Arr(toolCallSchema)),
		schema.P("tool_results", schema.Arr(toolResultSchema)),
	))),
	schema.P("documents", schema.Arr(&schema.Schema{Type: schema.Object, Open: true})),
	schema.P("search_queries_only", schema.Bool()),
	schema.P("preamble", schema.Str()),
	schema.P("max_tokens", schema.Int(1, schema.NoLimit)),
	schema.P("temperature", schema.Num(0, 1)),
	schema.P("p", schema.Num(0.01, 0.99)),
	schema.P("k", schema.Int(0, 500)),
	schema.P("prompt_truncation", schema.Enum("OFF", "AUTO_PRESERVE_ORDER")),
	schema.P("frequency_penalty", schema.Num(0, 1)),
	schema.P("presence_penalty", schema.Num(0, 1)),
	schema.P("seed", schema.Int(schema.NoLimit, schema.NoLimit)),
	schema.P("return_prompt", schema.Bool()),
	schema.P("tools", schema.Arr(schema.Obj([]string{"name"},
		schema.P("name", schema.Str()),
		schema.P("description", schema.Str()),
		schema.P("parameter_definitions", &schema.Schema{Type: schema.Object, Open: true}),
	))),
	schema.P("tool_results", schema.Arr(toolResultSchema)),
	schema.P("stop_sequences", schema.Arr(schema.Str())),
	schema.P("raw_prompting", schema.Bool()),
)

type toolCall struct {
	Name       string          `json:"name"`
	Parameters json.RawMessage `json:"parameters"`
}

type toolResult struct {
	Call    toolCall          `json:"call"`
	Outputs []json.RawMessage `json:"outputs"`
}

type turn struct {
	Role        string       `json:"role"`
	Message     string       `json:"message"`
	ToolCalls   []toolCall   `json:"tool_calls"`
	ToolResults []toolResult `json:"tool_results"`
}

type paramDef struct {
	Description string `json:"description"`
	Type        string `json:"type"`
	Required    bool   `json:"required"`
}

type commandRRequest struct {
	Message           string           `json:"message"`
	ChatHistory       []turn           `json:"chat_history"`
	Documents         []map[string]any `json:"documents"`
	SearchQueriesOnly bool             `json:"search_queries_only"`
	Preamble          string           `json:"preamble"`
	MaxTokens         *int             `json:"max_tokens"`
	Temperature       *float64         `json:"temperature"`
	P                 *float64         `json:"p"`
	K                 *int             `json:"k"`
	Seed              *int64           `json:"seed"`
	Tools             []commandRTool   `json:"tools"`
	ToolResults       []toolResult     `json:"tool_results"`
	StopSequences     []string         `json:"stop_sequences"`
}

type commandRTool struct {
	Name        string              `json:"name"`
	Description string              `json:"description"`
	Params      map[string]paramDef `json:"parameter_definitions"`
}

// DecodeRequest validates a Command R body. The preamble and SYSTEM turns
// become the system prompt, USER and CHATBOT turns messages; tool calls get
// IDs ("call_N") so that tool results can refer to them; documents are
// attached to the final user turn.
func (CommandR) DecodeRequest(body []byte) (*provider.Request, error) {
	var in commandRRequest
	if err := schema.Unmarshal(body, commandRSchema, &in); err != nil {
		return nil, err
	}
	if in.SearchQueriesOnly {
		return nil, fault.New(fault.Invalid, "search_queries_only is not supported by this model. Remove it and try again.")
	}
	req := &provider.Request{Temperature: in.Temperature, TopP: in.P, TopK: in.K, Seed: in.Seed, StopSequences: in.StopSequences}
	if in.MaxTokens != nil {
		req.MaxTokens = *in.MaxTokens
	}
	if in.Preamble != "" {
		req.System = append(req.System, provider.Block{Type: provider.TextBlock, Text: in.Preamble})
	}
	for _, t := range in.Tools {
		req.Tools = append(req.Tools, provider.Tool{Name: t.Name, Description: t.Description, Schema: toolSchema(t.Params)})
	}
	b := &builder{req: req}
	for _, t := range in.ChatHistory {
		switch t.Role {
		case "SYSTEM":
			req.System = append(req.System, provider.Block{Type: provider.TextBlock, Text: t.Message})
		case "USER":
			b.add(provider.User, provider.Block{Type: provider.TextBlock, Text: t.Message})
		case "CHATBOT":
			if t.Message != "" {
				b.add(provider.Assistant, provider.Block{Type: provider.TextBlock, Text: t.Message})
			}
			for _, c := range t.ToolCalls {
				b.call(c)
			}
		case "TOOL":
			b.results(t.ToolResults)
		}
	}
	b.results(in.ToolResults)
	var final []provider.Block
	for i, d := range in.Documents {
		final = append(final, document(i, d))
	}
	if in.Message != "" || len(b.req.Messages) == 0 || b.last().Role != provider.User {
		final = append(final, provider.Block{Type: provider.TextBlock, Text: in.Message})
	}
	if len(final) > 0 {
		b.add(provider.User, final...)
	}
	return req, nil
}

// builder appends turns, merging consecutive turns of one role.
type builder struct {
	req     *provider.Request
	n       int
	pending []provider.ToolUse // calls of the last assistant turn awaiting results
}

func (b *builder) last() *provider.Message { return &b.req.Messages[len(b.req.Messages)-1] }

func (b *builder) add(role provider.Role, blocks ...provider.Block) {
	if role == provider.User {
		b.pending = nil
	}
	if n := len(b.req.Messages); n > 0 && b.req.Messages[n-1].Role == role {
		b.last().Content = append(b.last().Content, blocks...)
		return
	}
	b.req.Messages = append(b.req.Messages, provider.Message{Role: role, Content: blocks})
}

func (b *builder) call(c toolCall) string {
	b.n++
	u := provider.ToolUse{ID: fmt.Sprintf("call_%d", b.n), Name: c.Name, Input: params(c.Parameters)}
	b.add(provider.Assistant, provider.Block{Type: provider.ToolUseBlock, ToolUse: &u})
	b.pending = append(b.pending, u)
	return u.ID
}

// results answers calls of the last assistant turn; a result whose call was
// not in the history gets its call added first.
func (b *builder) results(rs []toolResult) {
	if len(rs) == 0 {
		return
	}
	var blocks []provider.Block
	pending := b.pending
	for _, r := range rs {
		id := ""
		for i, u := range pending {
			if u.Name == r.Call.Name && jsonEqual(u.Input, params(r.Call.Parameters)) {
				id = u.ID
				pending = append(pending[:i:i], pending[i+1:]...)
				break
			}
		}
		if id == "" {
			id = b.call(r.Call)
		}
		tr := &provider.ToolResult{ToolUseID: id}
		for _, o := range r.Outputs {
			tr.Content = append(tr.Content, provider.Block{Type: provider.JSONBlock, JSON: o})
		}
		blocks = append(blocks, provider.Block{Type: provider.ToolResultBlock, ToolResult: tr})
	}
	b.add(provider.User, blocks...)
}

func params(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}")
	}
	return raw
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// document renders a Cohere document (string fields) as a text document.
func document(i int, d map[string]any) provider.Block {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "%s: %v\n", k, d[k])
	}
	name := fmt.Sprintf("doc_%d", i)
	if id, ok := d["id"].(string); ok && id != "" {
		name = id
	}
	return provider.Block{Type: provider.DocumentBlock, Document: &provider.Document{Format: "txt", Name: name, Text: sb.String()}}
}

// toolSchema turns Cohere parameter_definitions (Python-style type names)
// into a JSON Schema object.
func toolSchema(defs map[string]paramDef) json.RawMessage {
	props := map[string]any{}
	required := []string{}
	for name, d := range defs {
		p := map[string]any{"type": jsonType(d.Type)}
		if d.Description != "" {
			p["description"] = d.Description
		}
		props[name] = p
		if d.Required {
			required = append(required, name)
		}
	}
	sort.Strings(required)
	b, _ := json.Marshal(map[string]any{"type": "object", "properties": props, "required": required})
	return b
}

func jsonType(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	switch {
	case t == "str" || t == "string":
		return "string"
	case t == "int" || t == "integer":
		return "integer"
	case t == "float" || t == "number":
		return "number"
	case t == "bool" || t == "boolean":
		return "boolean"
	case strings.HasPrefix(t, "list") || t == "array":
		return "array"
	case strings.HasPrefix(t, "dict") || t == "object":
		return "object"
	}
	return "string"
}
