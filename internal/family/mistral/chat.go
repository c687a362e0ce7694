package mistral

import (
	"encoding/json"
	"fmt"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/completion"
	"github.com/outcrop/outcrop/internal/family/openaichat"
	"github.com/outcrop/outcrop/internal/family/schema"
	"github.com/outcrop/outcrop/internal/provider"
)

// Chat is the mistral-chat family.
type Chat struct{}

var _ family.ChatCodec = Chat{}

// Name returns "mistral-chat".
func (Chat) Name() string { return "mistral-chat" }

var chatSchema = schema.Obj([]string{"messages"},
	schema.P("messages", openaichat.MessagesSchema(&schema.Schema{Type: schema.String | schema.Object}, schema.P("name", schema.Str()))),
	schema.P("tools", openaichat.ToolsSchema("function")),
	schema.P("tool_choice", schema.Enum("auto", "any", "none")),
	schema.P("max_tokens", schema.Int(1, schema.NoLimit)),
	schema.P("temperature", schema.Num(0, 1)),
	schema.P("top_p", schema.Num(0, 1)),
	schema.P("stop", schema.Arr(schema.Str())),
)

type chatRequest struct {
	Messages    []openaichat.Message `json:"messages"`
	Tools       []openaichat.Tool    `json:"tools"`
	ToolChoice  string               `json:"tool_choice"`
	MaxTokens   *int                 `json:"max_tokens"`
	Temperature *float64             `json:"temperature"`
	TopP        *float64             `json:"top_p"`
	Stop        []string             `json:"stop"`
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
	req.Tools = openaichat.Tools(in.Tools)
	switch in.ToolChoice {
	case "any":
		req.ToolChoice.Mode = provider.ToolAny
	case "none":
		req.ToolChoice.Mode = provider.ToolNone
	}
	if err := chatWording.Conversation(req, in.Messages); err != nil {
		return nil, err
	}
	return req, nil
}

var chatWording = openaichat.Wording{
	MissingToolCallID: func(msg int) string {
		return fmt.Sprintf("Tool message at index %d must have a tool_call_id.", msg)
	},
	BadArguments: func(msg int, id string) string {
		return fmt.Sprintf("The arguments of tool call %s at message %d are not a JSON object.", id, msg)
	},
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
	reason := openaichat.FinishReason(resp.StopReason)
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
			reason := openaichat.FinishReason(e.Reason)
			return one(choice{StopReason: &reason})
		},
	}
}
