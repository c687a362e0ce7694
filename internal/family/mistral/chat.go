package mistral

import (
	"encoding/json"
	"strings"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/completion"
	"github.com/outcrop/outcrop/internal/family/schema"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// Chat is the mistral-chat family.
type Chat struct{}

var _ family.ChatCodec = Chat{}

// Name returns "mistral-chat".
func (Chat) Name() string { return "mistral-chat" }

var chatSchema = schema.Obj([]string{"messages"},
	schema.P("messages", &schema.Schema{Type: schema.Array, MinItems: 1, Items: schema.Obj([]string{"role"},
		schema.P("role", schema.Enum("system", "user", "assistant", "tool")),
		schema.P("content", &schema.Schema{Type: schema.String | schema.Null}),
		schema.P("tool_calls", schema.Arr(schema.Obj([]string{"function"},
			schema.P("id", schema.Str()),
			schema.P("type", schema.Enum("function")),
			schema.P("function", schema.Obj([]string{"name", "arguments"},
				schema.P("name", schema.Str()),
				schema.P("arguments", &schema.Schema{Type: schema.String | schema.Object}),
			)),
		))),
		schema.P("tool_call_id", schema.Str()),
		schema.P("name", schema.Str()),
	)}),
	schema.P("tools", schema.Arr(schema.Obj([]string{"function"},
		schema.P("type", schema.Enum("function")),
		schema.P("function", schema.Obj([]string{"name"},
			schema.P("name", schema.Str()),
			schema.P("description", schema.Str()),
			schema.P("parameters", &schema.Schema{Type: schema.Object, Open: true}),
		)),
	))),
	schema.P("tool_choice", schema.Enum("auto", "any", "none")),
	schema.P("max_tokens", schema.Int(1, schema.NoLimit)),
	schema.P("temperature", schema.Num(0, 1)),
	schema.P("top_p", schema.Num(0, 1)),
	schema.P("stop", schema.Arr(schema.Str())),
)

type toolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

type chatMessage struct {
	Role       string     `json:"role"`
	Content    *string    `json:"content"`
	ToolCalls  []toolCall `json:"tool_calls"`
	ToolCallID string     `json:"tool_call_id"`
}

type chatRequest struct {
	Messages []chatMessage `json:"messages"`
	Tools    []struct {
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
	ToolChoice  string   `json:"tool_choice"`
	MaxTokens   *int     `json:"max_tokens"`
	Temperature *float64 `json:"temperature"`
	TopP        *float64 `json:"top_p"`
	Stop        []string `json:"stop"`
}

// DecodeRequest validates a chat body. System messages become the system
// prompt; tool messages become tool results in a user turn; consecutive
// turns of one role are merged.
func (Chat) DecodeRequest(body []byte) (*provider.Request, error) {
	var in chatRequest
	if err := schema.Unmarshal(body, chatSchema, &in); err != nil {
		return nil, err
	}
	req := &provider.Request{Temperature: in.Temperature, TopP: in.TopP, StopSequences: in.Stop}
	if in.MaxTokens != nil {
		req.MaxTokens = *in.MaxTokens
	}
	for _, t := range in.Tools {
		s := t.Function.Parameters
		if len(s) == 0 {
			s = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		req.Tools = append(req.Tools, provider.Tool{Name: t.Function.Name, Description: t.Function.Description, Schema: s})
	}
	switch in.ToolChoice {
	case "any":
		req.ToolChoice.Mode = provider.ToolAny
	case "none":
		req.ToolChoice.Mode = provider.ToolNone
	}
	for i, m := range in.Messages {
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
			role = provider.User
			blocks = []provider.Block{{Type: provider.TextBlock, Text: text}}
		case "tool":
			if m.ToolCallID == "" {
				return nil, fault.Newf(fault.Invalid, "Tool message at index %d must have a tool_call_id.", i)
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
				in, err := arguments(c.Function.Arguments)
				if err != nil {
					return nil, fault.Newf(fault.Invalid, "The arguments of tool call %s at message %d are not a JSON object.", c.ID, i)
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
	return req, nil
}

// arguments returns a tool call's arguments, given as a JSON object or as a
// string holding one, as a JSON object.
func arguments(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		if strings.TrimSpace(s) == "" {
			s = "{}"
		}
		raw = json.RawMessage(s)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, fault.New(fault.Invalid, "arguments are not a JSON object")
	}
	return raw, nil
}

type outToolCall struct {
	ID       string `json:"id"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type outMessage struct {
	Role      string        `json:"role"`
	Content   string        `json:"content"`
	ToolCalls []outToolCall `json:"tool_calls,omitempty"`
}

type choice struct {
	Index      int        `json:"index"`
	Message    outMessage `json:"message"`
	StopReason *string    `json:"stop_reason"`
}

type choices struct {
	Choices []choice `json:"choices"`
}

func call(u *provider.ToolUse, input string) outToolCall {
	var c outToolCall
	c.ID, c.Function.Name, c.Function.Arguments = u.ID, u.Name, input
	return c
}

// EncodeResponse renders {choices: [{index, message, stop_reason}]}; tool
// call arguments are JSON strings, as in Mistral's API.
func (Chat) EncodeResponse(_ *provider.Request, resp *provider.Response) ([]byte, error) {
	reason := StopReason(resp.StopReason)
	msg := outMessage{Role: "assistant", Content: provider.TextOf(resp.Message.Content)}
	for _, b := range resp.Message.Content {
		if b.Type == provider.ToolUseBlock {
			in := string(b.ToolUse.Input)
			if in == "" {
				in = "{}"
			}
			msg.ToolCalls = append(msg.ToolCalls, call(b.ToolUse, in))
		}
	}
	return json.Marshal(choices{[]choice{{Message: msg, StopReason: &reason}}})
}

// NewStream returns the chunk encoder of one response: a choice per text
// delta, one per tool call, emitted whole when its block stops since
// Mistral streams complete tool calls, and a final one with the stop
// reason.
func (Chat) NewStream(*provider.Request) family.Stream {
	one := func(c choice) choices {
		c.Message.Role = "assistant"
		return choices{[]choice{c}}
	}
	return &completion.Stream[choices]{
		Delta: func(text string) choices { return one(choice{Message: outMessage{Content: text}}) },
		Tool: func(u *provider.ToolUse, input string) choices {
			return one(choice{Message: outMessage{ToolCalls: []outToolCall{call(u, input)}}})
		},
		Final: func(e completion.End) choices {
			reason := StopReason(e.Reason)
			return one(choice{StopReason: &reason})
		},
	}
}
