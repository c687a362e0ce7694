package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/openaicompat"
)

// streamEvent is the union of the Messages API's stream events.
type streamEvent struct {
	Type    string `json:"type"`
	Message *struct {
		Usage usage `json:"usage"`
	} `json:"message"`
	Index        int    `json:"index"`
	ContentBlock *block `json:"content_block"`
	Delta        *struct {
		Type        string  `json:"type"`
		Text        string  `json:"text"`
		PartialJSON string  `json:"partial_json"`
		Thinking    string  `json:"thinking"`
		StopReason  string  `json:"stop_reason"`
		StopSeq     *string `json:"stop_sequence"`
	} `json:"delta"`
	Usage *struct {
		InputTokens  *int `json:"input_tokens"`
		OutputTokens *int `json:"output_tokens"`
	} `json:"usage"`
	Error *apiError `json:"error"`
}

// ConverseStream sends a streaming request and maps every event:
// message_start → MessageStart; content_block_start of a tool_use →
// BlockStart; text_delta, input_json_delta and thinking_delta → deltas;
// content_block_stop → BlockStop; message_delta carries the stop reason
// and output tokens; message_stop → MessageStop and Metadata. ping and
// unknown events (Anthropic may add some) are skipped; error fails the
// stream.
func (a *Adapter) ConverseStream(ctx context.Context, req *provider.Request, emit func(provider.Event) error) error {
	body, err := a.buildRequest(req, true)
	if err != nil {
		return err
	}
	resp, err := a.http.Post(ctx, "/v1/messages", body, true)
	if err != nil {
		return err
	}
	defer resp.Close()
	return a.readStream(resp.Body, emit)
}

var errEarlyEnd = errors.New("stream ended before message_stop")

func (a *Adapter) readStream(r io.Reader, emit func(provider.Event) error) error {
	sse := openaicompat.NewSSEReader(r)
	var u provider.Usage
	stop := provider.Event{Type: provider.MessageStopEvent, StopReason: provider.EndTurn}
	started := false
	open := map[int]string{} // open blocks' types by index
	used := map[int]bool{}
	emitted := map[int]bool{} // blocks with at least one event, which get a BlockStop
	for {
		ev, err := sse.Next()
		if err == io.EOF {
			return fault.Wrap(fault.ModelFailed, errEarlyEnd, "The anthropic backend ended the stream before the message finished.")
		}
		if err != nil {
			if fault.KindOf(err) == fault.Internal && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				err = fault.Wrap(fault.ModelFailed, err, "The anthropic backend sent a stream that cannot be read.")
			}
			return err
		}
		var se streamEvent
		if err := json.Unmarshal([]byte(ev.Data), &se); err != nil {
			return fault.Wrap(fault.ModelFailed, err, "The anthropic backend sent a stream event that is not valid JSON.")
		}
		if se.Type == "" {
			se.Type = ev.Event
		}
		if se.Type != "message_start" && se.Type != "error" && se.Type != "ping" && !started {
			return fault.Newf(fault.ModelFailed, "The anthropic backend sent %s before message_start.", safe(se.Type))
		}
		var out []provider.Event
		switch se.Type {
		case "message_start":
			if started {
				continue
			}
			started = true
			if se.Message != nil {
				u = provider.Usage{InputTokens: se.Message.Usage.InputTokens, OutputTokens: se.Message.Usage.OutputTokens}
			}
			out = append(out, provider.Event{Type: provider.MessageStartEvent})
		case "content_block_start":
			cb := se.ContentBlock
			if used[se.Index] || cb == nil || se.Index < 0 {
				return fault.New(fault.ModelFailed, "The anthropic backend sent a malformed content_block_start.")
			}
			used[se.Index], open[se.Index] = true, cb.Type
			{
				switch cb.Type {
				case "tool_use", "server_tool_use":
					if cb.Name == "" {
						return fault.New(fault.ModelFailed, "The anthropic backend sent a tool call without a name.")
					}
					out = append(out, provider.Event{Type: provider.BlockStartEvent, Index: se.Index, ToolUse: &provider.ToolUse{ID: cb.ID, Name: cb.Name}})
				case "text":
					if cb.Text != nil && *cb.Text != "" {
						out = append(out, provider.Event{Type: provider.TextDeltaEvent, Index: se.Index, Text: *cb.Text})
					}
				case "thinking":
					if cb.Thinking != nil && *cb.Thinking != "" {
						out = append(out, provider.Event{Type: provider.ReasoningDeltaEvent, Index: se.Index, Text: *cb.Thinking})
					}
				}
			}
		case "content_block_delta":
			if se.Delta == nil {
				continue
			}
			kind := open[se.Index]
			switch d := se.Delta; d.Type {
			case "text_delta":
				if d.Text != "" && kind == "text" {
					out = append(out, provider.Event{Type: provider.TextDeltaEvent, Index: se.Index, Text: d.Text})
				}
			case "input_json_delta":
				if d.PartialJSON != "" && (kind == "tool_use" || kind == "server_tool_use") {
					out = append(out, provider.Event{Type: provider.ToolInputDeltaEvent, Index: se.Index, Text: d.PartialJSON})
				}
			case "thinking_delta":
				if d.Thinking != "" && kind == "thinking" {
					out = append(out, provider.Event{Type: provider.ReasoningDeltaEvent, Index: se.Index, Text: d.Thinking})
				}
				// signature_delta and citations_delta have no canonical event.
			}
		case "content_block_stop":
			if _, ok := open[se.Index]; ok {
				delete(open, se.Index)
				if emitted[se.Index] {
					out = append(out, provider.Event{Type: provider.BlockStopEvent, Index: se.Index})
				}
			}
		case "message_delta":
			if se.Delta != nil && se.Delta.StopReason != "" {
				stop.StopReason = stopReason(se.Delta.StopReason)
				if se.Delta.StopSeq != nil {
					stop.StopSequence = *se.Delta.StopSeq
				}
			}
			if se.Usage != nil {
				if se.Usage.OutputTokens != nil {
					u.OutputTokens = *se.Usage.OutputTokens // cumulative
				}
				if se.Usage.InputTokens != nil {
					u.InputTokens = *se.Usage.InputTokens
				}
			}
		case "message_stop":
			idxs := make([]int, 0, len(open))
			for idx := range open { // blocks left open by the upstream
				if emitted[idx] {
					idxs = append(idxs, idx)
				}
			}
			slices.Sort(idxs)
			for _, idx := range idxs {
				if err := emit(provider.Event{Type: provider.BlockStopEvent, Index: idx}); err != nil {
					return err
				}
			}
			if err := emit(stop); err != nil {
				return err
			}
			return emit(provider.Event{Type: provider.MetadataEvent, Usage: u})
		case "error":
			e := apiError{Type: "error"}
			if se.Error != nil {
				e = *se.Error
			}
			return a.streamErr(e)
		}
		for _, e := range out {
			if e.Type != provider.MessageStartEvent {
				emitted[e.Index] = true
			}
			if err := emit(e); err != nil {
				return err
			}
		}
	}
}

func safe(s string) string {
	if len(s) > 40 {
		return "an unknown event"
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z') {
			return "an unknown event"
		}
	}
	return s
}
