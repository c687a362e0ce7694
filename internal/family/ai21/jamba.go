// Package ai21 holds the AI21 Labs InvokeModel families: "ai21-jamba"
// (Jamba Instruct and Jamba 1.5, an OpenAI-style chat completion body) and
// "ai21-j2" (the legacy Jurassic-2 completion body).
package ai21

import (
	"crypto/rand"
	"encoding/json"
	"fmt"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/openaichat"
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
	schema.P("messages", openaichat.MessagesSchema(schema.Str())),
	schema.P("max_tokens", schema.Int(1, schema.NoLimit)),
	schema.P("temperature", schema.Num(0, 2)),
	schema.P("top_p", schema.Num(0, 1)),
	schema.P("stop", &schema.Schema{Type: schema.String | schema.Array, Items: schema.Str()}),
	schema.P("n", schema.Int(1, 16)),
	schema.P("frequency_penalty", schema.Num(schema.NoLimit, schema.NoLimit)),
	schema.P("presence_penalty", schema.Num(schema.NoLimit, schema.NoLimit)),
	schema.P("tools", openaichat.ToolsSchema("type", "function")),
	schema.P("response_format", schema.Obj([]string{"type"}, schema.P("type", schema.Enum("text", "json_object")))),
)

type jambaRequest struct {
	Messages       []openaichat.Message `json:"messages"`
	MaxTokens      *int                 `json:"max_tokens"`
	Temperature    *float64             `json:"temperature"`
	TopP           *float64             `json:"top_p"`
	Stop           json.RawMessage      `json:"stop"`
	N              *int                 `json:"n"`
	Tools          []openaichat.Tool    `json:"tools"`
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
	req.Tools = openaichat.Tools(in.Tools)
	if err := jambaWording.Conversation(req, in.Messages); err != nil {
		return nil, err
	}
	return req, nil
}

var jambaWording = openaichat.Wording{
	MissingToolCallID: func(msg int) string {
		return fmt.Sprintf("messages.%d.tool_call_id: field required for tool messages", msg)
	},
	BadArguments: func(msg int, id string) string {
		return fmt.Sprintf("messages.%d.tool_calls: arguments of tool call %s are not a JSON object", msg, id)
	},
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
	reason := openaichat.FinishReason(resp.StopReason)
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
		reason := openaichat.FinishReason(s.reason)
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
