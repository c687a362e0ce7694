// Package openaichat reads the OpenAI-style chat bodies that several
// families accept (ai21-jamba, mistral-chat): messages in the system, user,
// assistant (with tool_calls) and tool roles, plus function tools. It holds
// the schemas of those parts, their translation to canonical requests, and
// the finish_reason vocabulary ("stop", "length", "tool_calls").
//
// Families keep their own top-level schema, their own response shapes and
// their own wording of conversation errors (Wording).
package openaichat

import (
	"encoding/json"
	"strings"

	"github.com/outcrop/outcrop/internal/family/schema"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// MessagesSchema is the schema of the messages array. arguments is the
// schema of a tool call's function.arguments (a string, or also an object
// where the family allows one); extra lists further message keys.
func MessagesSchema(arguments *schema.Schema, extra ...schema.Prop) *schema.Schema {
	props := append([]schema.Prop{
		schema.P("role", schema.Enum("system", "user", "assistant", "tool")),
		schema.P("content", &schema.Schema{Type: schema.String | schema.Null}),
		schema.P("tool_calls", schema.Arr(schema.Obj([]string{"function"},
			schema.P("id", schema.Str()),
			schema.P("type", schema.Enum("function")),
			schema.P("function", schema.Obj([]string{"name", "arguments"},
				schema.P("name", schema.Str()),
				schema.P("arguments", arguments),
			)),
		))),
		schema.P("tool_call_id", schema.Str()),
	}, extra...)
	return &schema.Schema{Type: schema.Array, MinItems: 1, Items: schema.Obj([]string{"role"}, props...)}
}

// ToolsSchema is the schema of the tools array; required lists the keys
// each tool must have.
func ToolsSchema(required ...string) *schema.Schema {
	return schema.Arr(schema.Obj(required,
		schema.P("type", schema.Enum("function")),
		schema.P("function", schema.Obj([]string{"name"},
			schema.P("name", schema.Str()),
			schema.P("description", schema.Str()),
			schema.P("parameters", &schema.Schema{Type: schema.Object, Open: true}),
		)),
	))
}

// ToolCall is one entry of an assistant message's tool_calls. Arguments
// is a JSON object, or a string holding one.
type ToolCall struct {
	ID       string `json:"id"`
	Function struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

// Message is one entry of messages.
type Message struct {
	Role       string     `json:"role"`
	Content    *string    `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls"`
	ToolCallID string     `json:"tool_call_id"`
}

// Tool is one entry of tools.
type Tool struct {
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

// Tools returns the canonical tools; a tool without parameters takes an
// empty object.
func Tools(ts []Tool) []provider.Tool {
	var out []provider.Tool
	for _, t := range ts {
		s := t.Function.Parameters
		if len(s) == 0 {
			s = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		out = append(out, provider.Tool{Name: t.Function.Name, Description: t.Function.Description, Schema: s})
	}
	return out
}

// Wording is how a family words the conversation errors it reports; each
// function returns the client message.
type Wording struct {
	// MissingToolCallID is for a tool message, at index msg, without a
	// tool_call_id.
	MissingToolCallID func(msg int) string
	// BadArguments is for a tool call whose arguments are not a JSON
	// object.
	BadArguments func(msg int, callID string) string
}

// Conversation adds msgs to req: system messages become the system prompt,
// tool messages become tool results in a user turn, and consecutive turns
// of one role are merged. Errors are fault.Invalid, worded by w.
func (w Wording) Conversation(req *provider.Request, msgs []Message) error {
	for i, m := range msgs {
		text := ""
		if m.Content != nil {
			text = *m.Content
		}
		var role provider.Role
		var blocks []provider.Block
		switch m.Role {
		case "system":
			req.System = append(req.System, provider.Block{Type: provider.TextBlock, Text: text})
			continue
		case "user":
			role, blocks = provider.User, []provider.Block{{Type: provider.TextBlock, Text: text}}
		case "tool":
			if m.ToolCallID == "" {
				return fault.New(fault.Invalid, w.MissingToolCallID(i))
			}
			role = provider.User
			blocks = []provider.Block{{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{
				ToolUseID: m.ToolCallID, Content: []provider.Block{{Type: provider.TextBlock, Text: text}}}}}
		case "assistant":
			role = provider.Assistant
			if text != "" {
				blocks = append(blocks, provider.Block{Type: provider.TextBlock, Text: text})
			}
			for _, c := range m.ToolCalls {
				in, ok := arguments(c.Function.Arguments)
				if !ok {
					return fault.New(fault.Invalid, w.BadArguments(i, c.ID))
				}
				blocks = append(blocks, provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: c.ID, Name: c.Function.Name, Input: in}})
			}
		}
		if n := len(req.Messages); n > 0 && req.Messages[n-1].Role == role {
			req.Messages[n-1].Content = append(req.Messages[n-1].Content, blocks...)
			continue
		}
		req.Messages = append(req.Messages, provider.Message{Role: role, Content: blocks})
	}
	return nil
}

// arguments returns a tool call's arguments, given as a JSON object or as a
// string holding one (blank meaning {}), as a JSON object.
func arguments(raw json.RawMessage) (json.RawMessage, bool) {
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, false
		}
		if strings.TrimSpace(s) == "" {
			s = "{}"
		}
		raw = json.RawMessage(s)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, false
	}
	return raw, true
}

// FinishReason maps a stop reason to finish_reason: "length" when cut off,
// "tool_calls" when tools were called, else "stop".
func FinishReason(r provider.StopReason) string {
	switch r {
	case provider.MaxTokens, provider.ContextWindow:
		return "length"
	case provider.ToolUseStop:
		return "tool_calls"
	}
	return "stop"
}
