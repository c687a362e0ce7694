// Package providertest holds test doubles for backends. Echo is a
// deterministic backend for tests only: it is never in the default
// configuration.
package providertest

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// EchoSpec registers the "echo" backend kind.
var EchoSpec = EchoSpecWith(Echo{})

// EchoSpecWith registers the "echo" kind serving e (for tests that watch
// its Started and Stopped channels).
func EchoSpecWith(e Echo) provider.Spec {
	return provider.Spec{Kind: "echo", New: func(json.RawMessage, provider.Env) (provider.Adapter, error) {
		return e, nil
	}}
}

// Echo answers with the text of the last user message, one word per token.
// Special inputs drive the error paths:
//
//	"fail:<kind>"        fails before any output with that fault kind
//	"failmid:<kind>"     streams one word, then fails
//	"tool:<name>"        calls tool <name> with input {"q":"echo"}
//	"block"              emits one word, then waits until the request's
//	                     context ends (signalling Started and Stopped)
//
// Stop sequences and MaxTokens are honoured word by word.
type Echo struct {
	// Started, if set, receives a value when a "block" request is waiting.
	Started chan<- struct{}
	// Stopped, if set, receives the context error that ended a "block" request.
	Stopped chan<- error
}

var (
	_ provider.Adapter      = Echo{}
	_ provider.Embedder     = Echo{}
	_ provider.TokenCounter = Echo{}
)

var kinds = map[string]fault.Kind{
	"throttled": fault.Throttled, "timeout": fault.ModelTimeout, "model": fault.ModelFailed,
	"unavailable": fault.Unavailable, "notready": fault.ModelNotReady, "internal": fault.Internal,
}

func lastUser(req *provider.Request) string {
	if req.Raw {
		return req.Prompt
	}
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == provider.User {
			if t := provider.TextOf(req.Messages[i].Content); t != "" {
				return t
			}
			for _, b := range req.Messages[i].Content {
				if b.ToolResult != nil {
					return "tool result " + provider.TextOf(b.ToolResult.Content) + string(firstJSON(b.ToolResult.Content))
				}
			}
		}
	}
	return ""
}

func firstJSON(bs []provider.Block) []byte {
	for _, b := range bs {
		if b.Type == provider.JSONBlock {
			return b.JSON
		}
	}
	return nil
}

// CountTokens counts words of all text.
func (Echo) CountTokens(_ context.Context, req *provider.Request) (int, error) {
	n := len(strings.Fields(req.Prompt)) + len(strings.Fields(provider.TextOf(req.System)))
	for _, m := range req.Messages {
		n += len(strings.Fields(provider.TextOf(m.Content)))
	}
	return n, nil
}

// Converse collects the stream.
func (e Echo) Converse(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	resp := &provider.Response{Message: provider.Message{Role: provider.Assistant}}
	var text strings.Builder
	var tool *provider.ToolUse
	err := e.ConverseStream(ctx, req, func(ev provider.Event) error {
		switch ev.Type {
		case provider.TextDeltaEvent:
			text.WriteString(ev.Text)
		case provider.BlockStartEvent:
			tool = &provider.ToolUse{ID: ev.ToolUse.ID, Name: ev.ToolUse.Name}
		case provider.ToolInputDeltaEvent:
			tool.Input = append(tool.Input, ev.Text...)
		case provider.MessageStopEvent:
			resp.StopReason, resp.StopSequence = ev.StopReason, ev.StopSequence
		case provider.MetadataEvent:
			resp.Usage = ev.Usage
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if text.Len() > 0 {
		resp.Message.Content = append(resp.Message.Content, provider.Block{Type: provider.TextBlock, Text: text.String()})
	}
	if tool != nil {
		resp.Message.Content = append(resp.Message.Content, provider.Block{Type: provider.ToolUseBlock, ToolUse: tool})
	}
	return resp, nil
}

// ConverseStream streams the echo word by word.
func (e Echo) ConverseStream(ctx context.Context, req *provider.Request, emit func(provider.Event) error) error {
	in := lastUser(req)
	inTok, _ := e.CountTokens(ctx, req)
	if k, ok := strings.CutPrefix(in, "fail:"); ok {
		return fault.Newf(kinds[k], "echo failure %s", k)
	}
	if err := emit(provider.Event{Type: provider.MessageStartEvent}); err != nil {
		return err
	}
	if name, ok := strings.CutPrefix(in, "tool:"); ok {
		evs := []provider.Event{
			{Type: provider.BlockStartEvent, ToolUse: &provider.ToolUse{ID: "tooluse_echo1", Name: name}},
			{Type: provider.ToolInputDeltaEvent, Text: `{"q":`},
			{Type: provider.ToolInputDeltaEvent, Text: `"echo"}`},
			{Type: provider.BlockStopEvent},
			{Type: provider.MessageStopEvent, StopReason: provider.ToolUseStop},
			{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: inTok, OutputTokens: 3}},
		}
		for _, ev := range evs {
			if err := emit(ev); err != nil {
				return err
			}
		}
		return nil
	}
	if in == "block" {
		if err := emit(provider.Event{Type: provider.TextDeltaEvent, Text: "waiting"}); err != nil {
			return err
		}
		if e.Started != nil {
			e.Started <- struct{}{}
		}
		<-ctx.Done()
		if e.Stopped != nil {
			e.Stopped <- ctx.Err()
		}
		return ctx.Err()
	}
	words := strings.Fields(in)
	if k, ok := strings.CutPrefix(in, "failmid:"); ok {
		if err := emit(provider.Event{Type: provider.TextDeltaEvent, Text: "partial"}); err != nil {
			return err
		}
		return fault.Newf(kinds[k], "echo failure %s", k)
	}
	stop, seq := provider.EndTurn, ""
	out := 0
	for i, w := range words {
		if err := ctx.Err(); err != nil {
			return err
		}
		if req.MaxTokens > 0 && out == req.MaxTokens {
			stop = provider.MaxTokens
			break
		}
		if s := matchStop(w, req.StopSequences); s != "" {
			stop, seq = provider.StopSequence, s
			break
		}
		if i > 0 {
			w = " " + w
		}
		if err := emit(provider.Event{Type: provider.TextDeltaEvent, Text: w}); err != nil {
			return err
		}
		out++
	}
	for _, ev := range []provider.Event{
		{Type: provider.BlockStopEvent},
		{Type: provider.MessageStopEvent, StopReason: stop, StopSequence: seq},
		{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: inTok, OutputTokens: out}},
	} {
		if err := emit(ev); err != nil {
			return err
		}
	}
	return nil
}

func matchStop(w string, stops []string) string {
	for _, s := range stops {
		if w == s {
			return s
		}
	}
	return ""
}

// Embed returns a deterministic 4-dimensional vector per text.
func (Echo) Embed(_ context.Context, req *provider.EmbedRequest) (*provider.EmbedResponse, error) {
	resp := &provider.EmbedResponse{}
	for _, t := range req.Texts {
		v := []float32{float32(len(t)), float32(len(strings.Fields(t))), 1, 0}
		if req.Dimensions > 0 && req.Dimensions != len(v) {
			return nil, fault.Newf(fault.Invalid, "echo embeddings have 4 dimensions, not %d", req.Dimensions)
		}
		resp.Vectors = append(resp.Vectors, v)
		resp.InputTokens += len(strings.Fields(t))
	}
	return resp, nil
}

// String describes the backend.
func (Echo) String() string { return "echo" }
