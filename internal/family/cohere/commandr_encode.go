package cohere

import (
	"encoding/json"
	"strings"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/provider"
)

type outToolCall struct {
	Name       string          `json:"name"`
	Parameters json.RawMessage `json:"parameters"`
}

type historyTurn struct {
	Role      string        `json:"role"`
	Message   string        `json:"message"`
	ToolCalls []outToolCall `json:"tool_calls,omitempty"`
}

type tokens struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
}

type meta struct {
	APIVersion struct {
		Version string `json:"version"`
	} `json:"api_version"`
	BilledUnits tokens `json:"billed_units"`
	Tokens      tokens `json:"tokens"`
}

type chatResponse struct {
	ResponseID   string        `json:"response_id"`
	Text         string        `json:"text"`
	GenerationID string        `json:"generation_id"`
	ChatHistory  []historyTurn `json:"chat_history"`
	FinishReason string        `json:"finish_reason"`
	ToolCalls    []outToolCall `json:"tool_calls,omitempty"`
	Meta         meta          `json:"meta"`
}

func newMeta(u provider.Usage) meta {
	var m meta
	m.APIVersion.Version = "1"
	m.BilledUnits = tokens{u.InputTokens, u.OutputTokens}
	m.Tokens = m.BilledUnits
	return m
}

// history renders the request's turns and the reply as Cohere chat_history.
func history(req *provider.Request, reply string, calls []outToolCall) []historyTurn {
	var out []historyTurn
	for _, m := range req.Messages {
		t := historyTurn{Role: "USER", Message: provider.TextOf(m.Content)}
		if m.Role == provider.Assistant {
			t.Role = "CHATBOT"
			for _, b := range m.Content {
				if b.Type == provider.ToolUseBlock {
					t.ToolCalls = append(t.ToolCalls, outToolCall{b.ToolUse.Name, params(b.ToolUse.Input)})
				}
			}
		}
		out = append(out, t)
	}
	return append(out, historyTurn{Role: "CHATBOT", Message: reply, ToolCalls: calls})
}

func (c CommandR) response(req *provider.Request, genID, text string, calls []outToolCall, r provider.StopReason, u provider.Usage) chatResponse {
	return chatResponse{
		ResponseID:   newID(c.NewID),
		Text:         text,
		GenerationID: genID,
		ChatHistory:  history(req, text, calls),
		FinishReason: FinishReason(r),
		ToolCalls:    calls,
		Meta:         newMeta(u),
	}
}

// EncodeResponse renders the Cohere chat response.
func (c CommandR) EncodeResponse(req *provider.Request, resp *provider.Response) ([]byte, error) {
	var calls []outToolCall
	for _, b := range resp.Message.Content {
		if b.Type == provider.ToolUseBlock {
			calls = append(calls, outToolCall{b.ToolUse.Name, params(b.ToolUse.Input)})
		}
	}
	return json.Marshal(c.response(req, newID(c.NewID), provider.TextOf(resp.Message.Content), calls, resp.StopReason, resp.Usage))
}

// NewStream returns the encoder of Cohere chat stream events.
func (c CommandR) NewStream(req *provider.Request) family.Stream {
	return &commandRStream{c: c, req: req, genID: newID(c.NewID)}
}

type commandRStream struct {
	c      CommandR
	req    *provider.Request
	genID  string
	text   strings.Builder
	calls  []outToolCall
	tool   *provider.ToolUse
	input  strings.Builder
	reason provider.StopReason
}

type streamEvent struct {
	IsFinished   bool          `json:"is_finished"`
	EventType    string        `json:"event_type"`
	GenerationID string        `json:"generation_id,omitempty"`
	Text         *string       `json:"text,omitempty"`
	ToolCalls    []outToolCall `json:"tool_calls,omitempty"`
	Response     *chatResponse `json:"response,omitempty"`
	FinishReason string        `json:"finish_reason,omitempty"`
}

// Chunks emits stream-start, text-generation per delta, one
// tool-calls-generation with every tool call once the message stops, and
// stream-end with the full response after the metadata event.
func (s *commandRStream) Chunks(ev provider.Event) ([][]byte, error) {
	var e streamEvent
	switch ev.Type {
	case provider.MessageStartEvent:
		e = streamEvent{EventType: "stream-start", GenerationID: s.genID}
	case provider.TextDeltaEvent:
		t := ev.Text
		s.text.WriteString(t)
		e = streamEvent{EventType: "text-generation", Text: &t}
	case provider.BlockStartEvent:
		s.tool = ev.ToolUse
		s.input.Reset()
		return nil, nil
	case provider.ToolInputDeltaEvent:
		s.input.WriteString(ev.Text)
		return nil, nil
	case provider.BlockStopEvent:
		if s.tool != nil {
			in := json.RawMessage(s.input.String())
			if !json.Valid(in) {
				in = nil
			}
			s.calls = append(s.calls, outToolCall{s.tool.Name, params(in)})
			s.tool = nil
		}
		return nil, nil
	case provider.MessageStopEvent:
		s.reason = ev.StopReason
		if len(s.calls) == 0 {
			return nil, nil
		}
		t := s.text.String()
		e = streamEvent{EventType: "tool-calls-generation", Text: &t, ToolCalls: s.calls}
	case provider.MetadataEvent:
		r := s.c.response(s.req, s.genID, s.text.String(), s.calls, s.reason, ev.Usage)
		e = streamEvent{IsFinished: true, EventType: "stream-end", Response: &r, FinishReason: r.FinishReason}
	default:
		return nil, nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return [][]byte{b}, nil
}
