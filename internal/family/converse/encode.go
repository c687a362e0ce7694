package converse

import (
	"encoding/json"

	"github.com/outcrop/outcrop/internal/family"

	"github.com/outcrop/outcrop/internal/provider"
)

// EncodeResponse builds the Converse response for resp.
func EncodeResponse(resp *provider.Response, latencyMs int64) *Response {
	out := &Response{
		StopReason: string(resp.StopReason),
		Usage:      usage(resp.Usage),
		Metrics:    Metrics{LatencyMs: latencyMs},
	}
	msg := &OutMessage{Role: "assistant", Content: []OutContentBlock{}}
	for _, b := range resp.Message.Content {
		switch b.Type {
		case provider.TextBlock:
			t := b.Text
			msg.Content = append(msg.Content, OutContentBlock{Text: &t})
		case provider.ToolUseBlock:
			msg.Content = append(msg.Content, OutContentBlock{ToolUse: &ToolUseBlock{ToolUseID: b.ToolUse.ID, Name: b.ToolUse.Name, Input: b.ToolUse.Input}})
		case provider.ReasoningBlock:
			rc := &ReasoningContent{RedactedContent: b.Reasoning.Redacted}
			if b.Reasoning.Text != "" || b.Reasoning.Signature != "" {
				rc.ReasoningText = &struct {
					Text      string `json:"text"`
					Signature string `json:"signature,omitempty"`
				}{b.Reasoning.Text, b.Reasoning.Signature}
			}
			msg.Content = append(msg.Content, OutContentBlock{ReasoningContent: rc})
		}
	}
	out.Output.Message = msg
	return out
}

func usage(u provider.Usage) Usage {
	return Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, TotalTokens: u.InputTokens + u.OutputTokens}
}

// StreamEvent is one ConverseStream event: its `:event-type` name and JSON payload.
type StreamEvent struct {
	Type    string
	Payload any
}

// Event payload shapes.
type (
	messageStart struct {
		Role string `json:"role"`
	}
	blockStart struct {
		ContentBlockIndex int `json:"contentBlockIndex"`
		Start             struct {
			ToolUse *struct {
				ToolUseID string `json:"toolUseId"`
				Name      string `json:"name"`
			} `json:"toolUse,omitempty"`
		} `json:"start"`
	}
	blockDelta struct {
		ContentBlockIndex int   `json:"contentBlockIndex"`
		Delta             delta `json:"delta"`
	}
	delta struct {
		Text    *string `json:"text,omitempty"`
		ToolUse *struct {
			Input string `json:"input"`
		} `json:"toolUse,omitempty"`
		ReasoningContent *struct {
			Text string `json:"text"`
		} `json:"reasoningContent,omitempty"`
	}
	blockStop struct {
		ContentBlockIndex int `json:"contentBlockIndex"`
	}
	messageStop struct {
		StopReason                    string          `json:"stopReason"`
		AdditionalModelResponseFields json.RawMessage `json:"additionalModelResponseFields,omitempty"`
	}
	metadata struct {
		Usage   Usage   `json:"usage"`
		Metrics Metrics `json:"metrics"`
	}
)

// EncodeEvent converts a canonical stream event into its ConverseStream
// event. latencyMs is used only by the metadata event.
func EncodeEvent(ev provider.Event, latencyMs int64) StreamEvent {
	switch ev.Type {
	case provider.MessageStartEvent:
		return StreamEvent{"messageStart", messageStart{Role: "assistant"}}
	case provider.BlockStartEvent:
		var p blockStart
		p.ContentBlockIndex = ev.Index
		if ev.ToolUse != nil {
			p.Start.ToolUse = &struct {
				ToolUseID string `json:"toolUseId"`
				Name      string `json:"name"`
			}{ev.ToolUse.ID, ev.ToolUse.Name}
		}
		return StreamEvent{"contentBlockStart", p}
	case provider.TextDeltaEvent:
		t := ev.Text
		return StreamEvent{"contentBlockDelta", blockDelta{ev.Index, delta{Text: &t}}}
	case provider.ToolInputDeltaEvent:
		return StreamEvent{"contentBlockDelta", blockDelta{ev.Index, delta{ToolUse: &struct {
			Input string `json:"input"`
		}{ev.Text}}}}
	case provider.ReasoningDeltaEvent:
		return StreamEvent{"contentBlockDelta", blockDelta{ev.Index, delta{ReasoningContent: &struct {
			Text string `json:"text"`
		}{ev.Text}}}}
	case provider.BlockStopEvent:
		return StreamEvent{"contentBlockStop", blockStop{ev.Index}}
	case provider.MessageStopEvent:
		return StreamEvent{"messageStop", messageStop{StopReason: string(ev.StopReason)}}
	default:
		return StreamEvent{"metadata", metadata{Usage: usage(ev.Usage), Metrics: Metrics{LatencyMs: latencyMs}}}
	}
}

// WithResponseFields sets additionalModelResponseFields on a messageStop
// event; other events are returned unchanged.
func WithResponseFields(se StreamEvent, fields json.RawMessage) StreamEvent {
	if ms, ok := se.Payload.(messageStop); ok {
		ms.AdditionalModelResponseFields = fields
		se.Payload = ms
	}
	return se
}

// Codec is the "converse" InvokeModel family: the body is a Converse
// request, the response a Converse response, and each stream chunk one
// ConverseStream event wrapped in an object named by its type.
type Codec struct{}

// Name returns "converse".
func (Codec) Name() string { return "converse" }

// DecodeRequest parses a Converse request body.
func (Codec) DecodeRequest(body []byte) (*provider.Request, error) {
	_, req, err := Decode(body)
	return req, err
}

// EncodeResponse renders a Converse response body.
func (Codec) EncodeResponse(_ *provider.Request, resp *provider.Response) ([]byte, error) {
	return json.Marshal(EncodeResponse(resp, 0))
}

// NewStream returns the chunk encoder.
func (Codec) NewStream(*provider.Request) family.Stream { return familyStream{} }

var _ family.ChatCodec = Codec{}

type familyStream struct{}

// Chunks wraps each event in an object keyed by its type.
func (familyStream) Chunks(ev provider.Event) ([][]byte, error) {
	se := EncodeEvent(ev, 0)
	b, err := json.Marshal(map[string]any{se.Type: se.Payload})
	if err != nil {
		return nil, err
	}
	return [][]byte{b}, nil
}
