package anthropic

import (
	"encoding/json"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/provider"
)

// outBlock is a response content block.
type outBlock struct {
	Type      string           `json:"type"`
	Text      *string          `json:"text,omitempty"`
	ID        string           `json:"id,omitempty"`
	Name      string           `json:"name,omitempty"`
	Input     *json.RawMessage `json:"input,omitempty"`
	Thinking  *string          `json:"thinking,omitempty"`
	Signature *string          `json:"signature,omitempty"`
	Data      string           `json:"data,omitempty"`
}

type usage struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
}

type messageResponse struct {
	ID           string     `json:"id"`
	Type         string     `json:"type"`
	Role         string     `json:"role"`
	Model        string     `json:"model"`
	Content      []outBlock `json:"content"`
	StopReason   *string    `json:"stop_reason"`
	StopSequence *string    `json:"stop_sequence"`
	Usage        usage      `json:"usage"`
}

// StopReason maps a canonical stop reason to Claude's stop_reason.
func StopReason(r provider.StopReason) string {
	switch r {
	case provider.MaxTokens:
		return "max_tokens"
	case provider.StopSequence:
		return "stop_sequence"
	case provider.ToolUseStop:
		return "tool_use"
	case provider.ContentFilter:
		return "refusal"
	case provider.ContextWindow:
		return "model_context_window_exceeded"
	}
	return "end_turn"
}

func stopSequence(resp provider.StopReason, seq string) *string {
	if resp != provider.StopSequence {
		return nil
	}
	return &seq
}

// EncodeResponse renders the Message object.
func (c Messages) EncodeResponse(req *provider.Request, resp *provider.Response) ([]byte, error) {
	reason := StopReason(resp.StopReason)
	out := messageResponse{
		ID:           c.id(),
		Type:         "message",
		Role:         "assistant",
		Model:        req.Model,
		Content:      []outBlock{},
		StopReason:   &reason,
		StopSequence: stopSequence(resp.StopReason, resp.StopSequence),
		Usage:        usage{InputTokens: resp.Usage.InputTokens, OutputTokens: resp.Usage.OutputTokens},
	}
	for _, b := range resp.Message.Content {
		switch b.Type {
		case provider.TextBlock:
			t := b.Text
			out.Content = append(out.Content, outBlock{Type: "text", Text: &t})
		case provider.ToolUseBlock:
			in := b.ToolUse.Input
			if len(in) == 0 {
				in = json.RawMessage("{}")
			}
			out.Content = append(out.Content, outBlock{Type: "tool_use", ID: b.ToolUse.ID, Name: b.ToolUse.Name, Input: &in})
		case provider.ReasoningBlock:
			r := b.Reasoning
			if len(r.Redacted) > 0 {
				out.Content = append(out.Content, outBlock{Type: "redacted_thinking", Data: string(r.Redacted)})
				continue
			}
			text, sig := r.Text, r.Signature
			out.Content = append(out.Content, outBlock{Type: "thinking", Thinking: &text, Signature: &sig})
		}
	}
	return json.Marshal(out)
}

// NewStream returns the encoder of Claude's streaming events for one
// response.
func (c Messages) NewStream(req *provider.Request) family.Stream {
	return &messagesStream{id: c.id(), model: req.Model, open: map[int]bool{}}
}

type messagesStream struct {
	id, model string
	open      map[int]bool // content blocks started and not yet stopped
	reason    provider.StopReason
	stopSeq   string
}

type streamEvent struct {
	Type         string           `json:"type"`
	Message      *messageResponse `json:"message,omitempty"`
	Index        *int             `json:"index,omitempty"`
	ContentBlock *outBlock        `json:"content_block,omitempty"`
	Delta        any              `json:"delta,omitempty"`
	Usage        *deltaUsage      `json:"usage,omitempty"`
}

type deltaUsage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
}

type textDelta struct {
	Type        string  `json:"type"`
	Text        *string `json:"text,omitempty"`
	PartialJSON *string `json:"partial_json,omitempty"`
	Thinking    *string `json:"thinking,omitempty"`
}

type messageDelta struct {
	StopReason   string  `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

// Chunks turns one canonical event into Claude stream events. Text and
// reasoning blocks get their content_block_start on their first delta;
// message_delta (stop reason and usage) and message_stop follow the final
// metadata event, once usage is known.
func (s *messagesStream) Chunks(ev provider.Event) ([][]byte, error) {
	var evs []streamEvent
	idx := ev.Index
	start := func(b outBlock) {
		s.open[idx] = true
		evs = append(evs, streamEvent{Type: "content_block_start", Index: &idx, ContentBlock: &b})
	}
	switch ev.Type {
	case provider.MessageStartEvent:
		evs = append(evs, streamEvent{Type: "message_start", Message: &messageResponse{
			ID: s.id, Type: "message", Role: "assistant", Model: s.model, Content: []outBlock{},
		}})
	case provider.BlockStartEvent:
		if ev.ToolUse != nil {
			in := json.RawMessage("{}")
			start(outBlock{Type: "tool_use", ID: ev.ToolUse.ID, Name: ev.ToolUse.Name, Input: &in})
		}
	case provider.TextDeltaEvent:
		if !s.open[idx] {
			start(outBlock{Type: "text", Text: new(string)})
		}
		t := ev.Text
		evs = append(evs, streamEvent{Type: "content_block_delta", Index: &idx, Delta: textDelta{Type: "text_delta", Text: &t}})
	case provider.ToolInputDeltaEvent:
		if !s.open[idx] {
			in := json.RawMessage("{}")
			start(outBlock{Type: "tool_use", Input: &in})
		}
		t := ev.Text
		evs = append(evs, streamEvent{Type: "content_block_delta", Index: &idx, Delta: textDelta{Type: "input_json_delta", PartialJSON: &t}})
	case provider.ReasoningDeltaEvent:
		if !s.open[idx] {
			start(outBlock{Type: "thinking", Thinking: new(string)})
		}
		t := ev.Text
		evs = append(evs, streamEvent{Type: "content_block_delta", Index: &idx, Delta: textDelta{Type: "thinking_delta", Thinking: &t}})
	case provider.BlockStopEvent:
		if !s.open[idx] {
			start(outBlock{Type: "text", Text: new(string)})
		}
		delete(s.open, idx)
		evs = append(evs, streamEvent{Type: "content_block_stop", Index: &idx})
	case provider.MessageStopEvent:
		s.reason, s.stopSeq = ev.StopReason, ev.StopSequence
	case provider.MetadataEvent:
		evs = append(evs,
			streamEvent{Type: "message_delta",
				Delta: messageDelta{StopReason: StopReason(s.reason), StopSequence: stopSequence(s.reason, s.stopSeq)},
				Usage: &deltaUsage{InputTokens: ev.Usage.InputTokens, OutputTokens: ev.Usage.OutputTokens}},
			streamEvent{Type: "message_stop"})
	}
	return marshalAll(evs)
}

func marshalAll[T any](evs []T) ([][]byte, error) {
	out := make([][]byte, 0, len(evs))
	for _, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
