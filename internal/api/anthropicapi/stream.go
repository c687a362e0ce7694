package anthropicapi

import (
	"encoding/json"
	"net/http"

	"github.com/outcrop/outcrop/internal/api/dialect"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// Stream event payloads, in the order Anthropic sends them: message_start,
// then per block content_block_start (followed once by ping),
// content_block_delta..., content_block_stop; then message_delta and
// message_stop.
type (
	messageStart struct {
		Type    string   `json:"type"`
		Message *Message `json:"message"`
	}
	blockStart struct {
		Type         string `json:"type"`
		Index        int    `json:"index"`
		ContentBlock any    `json:"content_block"`
	}
	blockDelta struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
		Delta delta  `json:"delta"`
	}
	delta struct {
		Type        string  `json:"type"`
		Text        *string `json:"text,omitempty"`
		PartialJSON *string `json:"partial_json,omitempty"`
		Thinking    *string `json:"thinking,omitempty"`
	}
	indexOnly struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
	}
	messageDelta struct {
		Type  string `json:"type"`
		Delta struct {
			StopReason   *string `json:"stop_reason"`
			StopSequence *string `json:"stop_sequence"`
		} `json:"delta"`
		Usage deltaUsage `json:"usage"`
	}
	deltaUsage struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
	}
	typeOnly struct {
		Type string `json:"type"`
	}
	// Empty blocks opened by content_block_start.
	textStart struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	thinkingStart struct {
		Type      string `json:"type"`
		Thinking  string `json:"thinking"`
		Signature string `json:"signature"`
	}
	toolStart struct {
		Type  string          `json:"type"`
		ID    string          `json:"id"`
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	}
)

// msgStream turns canonical events into Anthropic's stream. Canonical text
// blocks have no start event, so blocks are opened on their first delta;
// block indexes are renumbered densely in order of appearance.
type msgStream struct {
	sse     *dialect.SSE
	id      string
	model   string
	started bool
	pinged  bool
	open    string // kind of the open block: "", "text", "thinking", "tool_use"
	canon   int    // canonical index of the open block
	next    int    // Anthropic index of the next block
	stop    provider.Event
	usage   provider.Usage
}

func (s *msgStream) start() error {
	if s.started {
		return nil
	}
	s.started = true
	return s.sse.Event("message_start", messageStart{Type: "message_start", Message: &Message{
		ID: s.id, Type: "message", Role: "assistant", Model: s.model, Content: []Block{}}})
}

func (s *msgStream) openBlock(kind string, canon int, cb any) error {
	if err := s.closeBlock(); err != nil {
		return err
	}
	s.open, s.canon = kind, canon
	if err := s.sse.Event("content_block_start", blockStart{Type: "content_block_start", Index: s.next, ContentBlock: cb}); err != nil {
		return err
	}
	if !s.pinged {
		s.pinged = true
		return s.sse.Event("ping", typeOnly{Type: "ping"})
	}
	return nil
}

func (s *msgStream) closeBlock() error {
	if s.open == "" {
		return nil
	}
	s.open = ""
	i := s.next
	s.next++
	return s.sse.Event("content_block_stop", indexOnly{Type: "content_block_stop", Index: i})
}

// ensure opens a block of kind for canonical index canon unless it is open.
func (s *msgStream) ensure(kind string, canon int, cb any) error {
	if s.open == kind && s.canon == canon {
		return nil
	}
	return s.openBlock(kind, canon, cb)
}

func (s *msgStream) delta(d delta) error {
	return s.sse.Event("content_block_delta", blockDelta{Type: "content_block_delta", Index: s.next, Delta: d})
}

func (s *msgStream) event(ev provider.Event) error {
	s.sse.Batch(ev.More)
	if err := s.start(); err != nil {
		return err
	}
	switch ev.Type {
	case provider.BlockStartEvent:
		if ev.ToolUse != nil {
			return s.openBlock("tool_use", ev.Index, toolStart{Type: "tool_use", ID: ev.ToolUse.ID, Name: ev.ToolUse.Name, Input: json.RawMessage("{}")})
		}
	case provider.TextDeltaEvent:
		if err := s.ensure("text", ev.Index, textStart{Type: "text"}); err != nil {
			return err
		}
		t := ev.Text
		return s.delta(delta{Type: "text_delta", Text: &t})
	case provider.ReasoningDeltaEvent:
		if err := s.ensure("thinking", ev.Index, thinkingStart{Type: "thinking"}); err != nil {
			return err
		}
		t := ev.Text
		return s.delta(delta{Type: "thinking_delta", Thinking: &t})
	case provider.ToolInputDeltaEvent:
		if s.open != "tool_use" {
			return nil
		}
		t := ev.Text
		return s.delta(delta{Type: "input_json_delta", PartialJSON: &t})
	case provider.BlockStopEvent:
		return s.closeBlock()
	case provider.MessageStopEvent:
		s.stop = ev
		return s.closeBlock()
	case provider.MetadataEvent:
		s.usage = ev.Usage
	}
	return nil
}

func (s *msgStream) finish() error {
	if err := s.start(); err != nil {
		return err
	}
	if err := s.closeBlock(); err != nil {
		return err
	}
	md := messageDelta{Type: "message_delta", Usage: deltaUsage{InputTokens: s.usage.InputTokens, OutputTokens: s.usage.OutputTokens}}
	md.Delta.StopReason = stopReason(s.stop.StopReason)
	if s.stop.StopSequence != "" {
		md.Delta.StopSequence = str(s.stop.StopSequence)
	}
	if err := s.sse.Event("message_delta", md); err != nil {
		return err
	}
	return s.sse.Last("message_stop", typeOnly{Type: "message_stop"})
}

func (h *Handler) stream(w http.ResponseWriter, r *http.Request, t *dialect.Target, req *provider.Request, id, model string) error {
	s := &msgStream{sse: dialect.NewSSE(w), id: id, model: model}
	err := h.m.Stream(r.Context(), t, req, s.event)
	if err == nil {
		err = s.finish()
	}
	if err == nil || !s.sse.Started() {
		return err
	}
	if dialect.Gone(err) {
		return nil
	}
	_, e := errorFor(err)
	_ = s.sse.Last("error", ErrorBody{Type: "error", Error: e, RequestID: reqctx.RequestID(r.Context())})
	return nil
}
