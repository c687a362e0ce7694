// Package completion holds what the text-completion families share:
// turning a raw-prompt body's sampling parameters into a canonical request,
// and the stream shape they all use, one chunk per text delta and a final
// chunk, once usage is known, with the stop reason and token counts.
//
// Families keep their own wire structs and stop-reason vocabularies; this
// package only removes the control flow they had in common.
package completion

import (
	"encoding/json"
	"strings"

	"github.com/outcrop/outcrop/internal/family/prompt"
	"github.com/outcrop/outcrop/internal/provider"
)

// Params are the sampling parameters of a raw-prompt body. Nil fields were
// absent from the body.
type Params struct {
	Prompt      string
	Temperature *float64
	TopP        *float64
	TopK        *int
	MaxTokens   *int
	Stop        []string
	// Formats read Prompt as chat turns (Request.PromptChat), tried in
	// order: the family's documented prompt formats, then prompt.Plain
	// for families whose models answer a bare instruction. None, or none
	// that reads the prompt, keeps it verbatim for every backend.
	Formats []prompt.Parser
}

// Request returns the raw-prompt request of p, with the prompt read as
// chat turns when one of p.Formats reads it. MaxTokens is def when the
// body gives none or gives 0, which Titan and Jurassic-2 read as "the
// default" (the other families' schemas reject 0).
func (p Params) Request(def int) *provider.Request {
	req := &provider.Request{Raw: true, Prompt: p.Prompt, Temperature: p.Temperature, TopP: p.TopP, TopK: p.TopK,
		StopSequences: p.Stop, MaxTokens: def, PromptChat: prompt.Read(p.Prompt, p.Formats...)}
	if p.MaxTokens != nil && *p.MaxTokens > 0 {
		req.MaxTokens = *p.MaxTokens
	}
	return req
}

// End is what a final chunk reports.
type End struct {
	Reason provider.StopReason
	// Sequence is the stop sequence met when Reason is StopSequence.
	Sequence string
	Usage    provider.Usage
}

// EndOf returns the End of a whole response.
func EndOf(resp *provider.Response) End {
	return End{Reason: resp.StopReason, Sequence: resp.StopSequence, Usage: resp.Usage}
}

// Stream is the family.Stream of one completion whose chunks are C values
// rendered as JSON. Delta renders the chunk of each text delta and Final
// the last chunk, which follows the metadata event. When Tool is set, each
// tool call is rendered whole once its block stops, with input the JSON text
// that arrived for it ("{}" when none did); otherwise tool calls give no
// chunks. Other events give no chunks either.
//
// A Stream serves one response and is not safe for concurrent use.
type Stream[C any] struct {
	Delta func(text string) C
	Final func(End) C
	Tool  func(call *provider.ToolUse, input string) C

	end   End
	tool  *provider.ToolUse
	input strings.Builder
}

// Chunks renders the chunk, if any, of one event.
func (s *Stream[C]) Chunks(ev provider.Event) ([][]byte, error) {
	var c C
	switch ev.Type {
	case provider.TextDeltaEvent:
		c = s.Delta(ev.Text)
	case provider.BlockStartEvent:
		s.tool = ev.ToolUse
		s.input.Reset()
		return nil, nil
	case provider.ToolInputDeltaEvent:
		s.input.WriteString(ev.Text)
		return nil, nil
	case provider.BlockStopEvent:
		if s.tool == nil || s.Tool == nil {
			return nil, nil
		}
		in := s.input.String()
		if in == "" {
			in = "{}"
		}
		c = s.Tool(s.tool, in)
		s.tool = nil
	case provider.MessageStopEvent:
		s.end.Reason, s.end.Sequence = ev.StopReason, ev.StopSequence
		return nil, nil
	case provider.MetadataEvent:
		s.end.Usage = ev.Usage
		c = s.Final(s.end)
	default:
		return nil, nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return [][]byte{b}, nil
}
