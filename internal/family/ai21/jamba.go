// Package ai21 holds the AI21 Labs InvokeModel families: "ai21-jamba"
// (Jamba Instruct and Jamba 1.5, an OpenAI-style chat completion body) and
// "ai21-j2" (the legacy Jurassic-2 completion body).
package ai21

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/schema"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// Jamba is the ai21-jamba family. NewID, when set, replaces the random
// completion IDs.
type Jamba struct {
	NewID func() string
}

var _ family.ChatCodec = Jamba{}

// Name returns "ai21-jamba".
func (Jamba) Name() string { return "ai21-jamba" }

func (c Jamba) id() string {
	if c.NewID != nil {
		return c.NewID()
	}
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return fmt.Sprintf("chatcmpl-%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

var jambaSchema = schema.Obj([]string{"messages"},
	schema.P("messages", &schema.Schema{Type: schema.Array, MinItems: 1, Items: schema.Obj([]string{"role"},
		schema.P("role", schema.Enum("system", "user", "assistant", "tool")),
		schema.P("content", &schema.Schema{Type: schema.String | schema.Null}),
		schema.P("tool_calls", schema.Arr(schema.Obj([]string{"function"},
			schema.P("id", schema.Str()),
			schema.P("type", schema.Enum("function")),
			schema.P("function", schema.Obj([]string{"name", "arguments"},
				schema.P("name", schema.Str()),
				schema.P("arguments", schema.Str()),
			)),
		))),
		schema.P("tool_call_id", schema.Str()),
	)}),
	schema.P("max_tokens", schema.Int(1, schema.NoLimit)),
	schema.P("temperature", schema.Num(0, 2)),
	schema.P("top_p", schema.Num(0, 1)),
	schema.P("stop", &schema.Schema{Type: schema.String | schema.Array, Items: schema.Str()}),
	schema.P("n", schema.Int(1, 16)),
	schema.P("frequency_penalty", schema.Num(schema.NoLimit, schema.NoLimit)),
	schema.P("presence_penalty", schema.Num(schema.NoLimit, schema.NoLimit)),
	schema.P("tools", schema.Arr(schema.Obj([]string{"type", "function"},
		schema.P("type", schema.Enum("function")),
		schema.P("function", schema.Obj([]string{"name"},
			schema.P("name", schema.Str()),
			schema.P("description", schema.Str()),
			schema.P("parameters", &schema.Schema{Type: schema.Object, Open: true}),
		)),
	))),
	schema.P("response_format", schema.Obj([]string{"type"}, schema.P("type", schema.Enum("text", "json_object")))),
)

type jambaMessage struct {
	Role      string  `json:"role"`
	Content   *string `json:"content"`
	ToolCalls []struct {
		ID       string `json:"id"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
	ToolCallID string `json:"tool_call_id"`
}

type jambaRequest struct {
	Messages    []jambaMessage  `json:"messages"`
	MaxTokens   *int            `json:"max_tokens"`
	Temperature *float64        `json:"temperature"`
	TopP        *float64        `json:"top_p"`
	Stop        json.RawMessage `json:"stop"`
	N           *int            `json:"n"`
	Tools       []struct {
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
	ResponseFormat *struct {
		Type string `json:"type"`
	} `json:"response_format"`
}

func invalid(format string, args ...any) error { return fault.Newf(fault.Invalid, format, args...) }

// DecodeRequest validates a Jamba body. System messages become the system
// prompt and tool messages tool results; one choice (n = 1) is supported.
func (Jamba) DecodeRequest(body []byte) (*provider.Request, error) {
	var in jambaRequest
	if err := schema.Unmarshal(body, jambaSchema, &in); err != nil {
		return nil, err
	}
	if in.N != nil && *in.N > 1 {
		return nil, invalid("n greater than 1 is not supported. Set n to 1 and try again.")
	}
	req := &provider.Request{Temperature: in.Temperature, TopP: in.TopP}
	if in.MaxTokens != nil {
		req.MaxTokens = *in.MaxTokens
	}
	var stop string
	if json.Unmarshal(in.Stop, &stop) == nil {
		req.StopSequences = []string{stop}
	} else if len(in.Stop) > 0 {
		json.Unmarshal(in.Stop, &req.StopSequences) // validated as an array of strings
	}
	if in.ResponseFormat != nil && in.ResponseFormat.Type == "json_object" {
		req.Extra = json.RawMessage(`{"response_format":{"type":"json_object"}}`)
	}
	for _, t := range in.Tools {
		s := t.Function.Parameters
		if len(s) == 0 {
			s = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		req.Tools = append(req.Tools, provider.Tool{Name: t.Function.Name, Description: t.Function.Description, Schema: s})
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
			role, blocks = provider.User, []provider.Block{{Type: provider.TextBlock, Text: text}}
		case "tool":
			if m.ToolCallID == "" {
				return nil, invalid("messages.%d.tool_call_id: field required for tool messages", i)
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
				args := c.Function.Arguments
				if strings.TrimSpace(args) == "" {
					args = "{}"
				}
				var obj map[string]json.RawMessage
				if json.Unmarshal([]byte(args), &obj) != nil || obj == nil {
					return nil, invalid("messages.%d.tool_calls: arguments of tool call %s are not a JSON object", i, c.ID)
				}
				blocks = append(blocks, provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: c.ID, Name: c.Function.Name, Input: json.RawMessage(args)}})
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

// FinishReason maps a stop reason to Jamba's finish_reason.
func FinishReason(r provider.StopReason) string {
	switch r {
	case provider.MaxTokens, provider.ContextWindow:
		return "length"
	case provider.ToolUseStop:
		return "tool_calls"
	}
	return "stop"
}

type function struct {
	Name      string  `json:"name,omitempty"`
	Arguments *string `json:"arguments,omitempty"`
}

type outToolCall struct {
	Index    *int     `json:"index,omitempty"`
	ID       string   `json:"id,omitempty"`
	Type     string   `json:"type,omitempty"`
	Function function `json:"function"`
}

type outMessage struct {
	Role      string        `json:"role,omitempty"`
	Content   *string       `json:"content,omitempty"`
	ToolCalls []outToolCall `json:"tool_calls,omitempty"`
}

type choice struct {
	Index        int         `json:"index"`
	Message      *outMessage `json:"message,omitempty"`
	Delta        *outMessage `json:"delta,omitempty"`
	FinishReason *string     `json:"finish_reason"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type chatCompletion struct {
	ID      string   `json:"id"`
	Model   string   `json:"model,omitempty"`
	Choices []choice `json:"choices"`
	Usage   *usage   `json:"usage,omitempty"`
}

func newUsage(u provider.Usage) *usage {
	return &usage{u.InputTokens, u.OutputTokens, u.InputTokens + u.OutputTokens}
}

// EncodeResponse renders {id, choices, usage}.
func (c Jamba) EncodeResponse(req *provider.Request, resp *provider.Response) ([]byte, error) {
	text := provider.TextOf(resp.Message.Content)
	msg := &outMessage{Role: "assistant", Content: &text}
	for _, b := range resp.Message.Content {
		if b.Type == provider.ToolUseBlock {
			args := string(b.ToolUse.Input)
			if args == "" {
				args = "{}"
			}
			msg.ToolCalls = append(msg.ToolCalls, outToolCall{ID: b.ToolUse.ID, Type: "function", Function: function{b.ToolUse.Name, &args}})
		}
	}
	reason := FinishReason(resp.StopReason)
	return json.Marshal(chatCompletion{ID: c.id(), Model: req.Model, Choices: []choice{{Message: msg, FinishReason: &reason}}, Usage: newUsage(resp.Usage)})
}

// NewStream returns the encoder of OpenAI-style chunks for one response.
func (c Jamba) NewStream(req *provider.Request) family.Stream {
	return &jambaStream{id: c.id(), model: req.Model, tools: map[int]int{}}
}

type jambaStream struct {
	id, model string
	tools     map[int]int // content block index → tool call index
	reason    provider.StopReason
}

// Chunks emits a role delta at the start, content deltas, tool call deltas
// (id and name first, then argument fragments), and a final chunk with the
// finish reason and usage.
func (s *jambaStream) Chunks(ev provider.Event) ([][]byte, error) {
	ch := choice{Delta: &outMessage{}}
	out := chatCompletion{ID: s.id, Model: s.model}
	switch ev.Type {
	case provider.MessageStartEvent:
		empty := ""
		ch.Delta = &outMessage{Role: "assistant", Content: &empty}
	case provider.TextDeltaEvent:
		t := ev.Text
		ch.Delta.Content = &t
	case provider.BlockStartEvent:
		if ev.ToolUse == nil {
			return nil, nil
		}
		n := len(s.tools)
		s.tools[ev.Index] = n
		empty := ""
		ch.Delta.ToolCalls = []outToolCall{{Index: &n, ID: ev.ToolUse.ID, Type: "function", Function: function{ev.ToolUse.Name, &empty}}}
	case provider.ToolInputDeltaEvent:
		n := s.tools[ev.Index]
		t := ev.Text
		ch.Delta.ToolCalls = []outToolCall{{Index: &n, Function: function{Arguments: &t}}}
	case provider.MessageStopEvent:
		s.reason = ev.StopReason
		return nil, nil
	case provider.MetadataEvent:
		reason := FinishReason(s.reason)
		ch.FinishReason = &reason
		out.Usage = newUsage(ev.Usage)
	default:
		return nil, nil
	}
	out.Choices = []choice{ch}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return [][]byte{b}, nil
}
