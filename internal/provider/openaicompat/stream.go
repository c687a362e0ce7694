package openaicompat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// Blocks turns a stream of text, reasoning and tool-call fragments into
// canonical events with Converse's content-block indexes: a block ends
// (BlockStop) when a fragment of another block arrives, tool blocks begin
// with BlockStart, and indexes count up from 0.
type Blocks struct {
	Emit func(provider.Event) error

	open  bool
	kind  blockKind
	key   int // the upstream's tool-call index of an open tool block
	index int // index of the open block; next block gets index+1
	used  bool
	tools map[int]int // upstream tool-call index -> block index
	saw   bool
}

type blockKind int8

const (
	textKind blockKind = iota
	reasoningKind
	toolKind
)

func (b *Blocks) start(k blockKind, key int) error {
	if b.open && b.kind == k && (k != toolKind || b.key == key) {
		return nil
	}
	if err := b.Close(); err != nil {
		return err
	}
	if b.used {
		b.index++
	}
	b.used, b.open, b.kind, b.key = true, true, k, key
	return nil
}

// Text emits a text fragment.
func (b *Blocks) Text(s string) error {
	if s == "" {
		return nil
	}
	if err := b.start(textKind, 0); err != nil {
		return err
	}
	return b.Emit(provider.Event{Type: provider.TextDeltaEvent, Index: b.index, Text: s})
}

// Reasoning emits a fragment of reasoning text.
func (b *Blocks) Reasoning(s string) error {
	if s == "" {
		return nil
	}
	if err := b.start(reasoningKind, 0); err != nil {
		return err
	}
	return b.Emit(provider.Event{Type: provider.ReasoningDeltaEvent, Index: b.index, Text: s})
}

// ToolStart begins tool call key (the upstream's index of the call).
func (b *Blocks) ToolStart(key int, id, name string) error {
	if err := b.start(toolKind, key); err != nil {
		return err
	}
	if b.tools == nil {
		b.tools = map[int]int{}
	}
	b.tools[key] = b.index
	b.saw = true
	return b.Emit(provider.Event{Type: provider.BlockStartEvent, Index: b.index, ToolUse: &provider.ToolUse{ID: id, Name: name}})
}

// ToolDelta emits a fragment of tool call key's input JSON. A fragment for
// a call whose block already ended keeps that block's index.
func (b *Blocks) ToolDelta(key int, frag string) error {
	if frag == "" {
		return nil
	}
	idx, ok := b.tools[key]
	if !ok {
		return fault.New(fault.ModelFailed, "The backend streamed tool input before naming the tool.")
	}
	return b.Emit(provider.Event{Type: provider.ToolInputDeltaEvent, Index: idx, Text: frag})
}

// Close ends the open block, if any.
func (b *Blocks) Close() error {
	if !b.open {
		return nil
	}
	b.open = false
	return b.Emit(provider.Event{Type: provider.BlockStopEvent, Index: b.index})
}

// SawTool says whether a tool call was streamed.
func (b *Blocks) SawTool() bool { return b.saw }

// ErrEarlyEnd is the cause when a stream ends before the response did.
var ErrEarlyEnd = errors.New("stream ended before the response finished")

// ConverseStream sends a streaming request and emits canonical events.
// Nothing is retried once the upstream has answered 2xx.
func (c *Client) ConverseStream(ctx context.Context, req *provider.Request, emit func(provider.Event) error) error {
	body, err := c.buildRequest(req, true)
	if err != nil {
		return err
	}
	resp, err := c.HTTP.Post(ctx, "/chat/completions", body, true)
	if err != nil {
		return err
	}
	defer resp.Close()
	return c.readStream(resp.Body, req, emit)
}

// readStream decodes Chat Completions chunks from r.
func (c *Client) readStream(r io.Reader, req *provider.Request, emit func(provider.Event) error) error {
	sse := NewSSEReader(r)
	blocks := &Blocks{Emit: emit}
	started, stopped := false, false
	var usage provider.Usage
	start := func() error {
		if started {
			return nil
		}
		started = true
		return emit(provider.Event{Type: provider.MessageStartEvent})
	}
	finish := func() error {
		if !stopped {
			return fault.Wrap(fault.ModelFailed, ErrEarlyEnd, fmt.Sprintf("The %s backend ended the stream before the response finished.", c.name()))
		}
		return emit(provider.Event{Type: provider.MetadataEvent, Usage: usage})
	}
	for {
		ev, err := sse.Next()
		if err == io.EOF {
			return finish()
		}
		if err != nil {
			if fault.KindOf(err) == fault.Internal && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				err = fault.Wrap(fault.ModelFailed, err, fmt.Sprintf("The %s backend sent a stream that cannot be read.", c.name()))
			}
			return err
		}
		if ev.Data == "[DONE]" {
			return finish()
		}
		if ev.Event == "error" {
			return c.streamError(&apiError{Message: ev.Data, Type: "error"})
		}
		var ch chatResponse
		if err := json.Unmarshal([]byte(ev.Data), &ch); err != nil {
			return fault.Wrap(fault.ModelFailed, err, fmt.Sprintf("The %s backend sent a stream chunk that is not valid JSON.", c.name()))
		}
		if ch.Error != nil {
			return c.streamError(ch.Error)
		}
		if err := start(); err != nil {
			return err
		}
		if ch.Usage != nil {
			usage = provider.Usage{InputTokens: ch.Usage.PromptTokens, OutputTokens: ch.Usage.CompletionTokens}
		}
		for _, cho := range ch.Choices {
			if cho.Index != 0 {
				continue // only the first choice is requested
			}
			if d := cho.Delta; d != nil && !stopped {
				if d.ReasoningContent != nil {
					if err := blocks.Reasoning(*d.ReasoningContent); err != nil {
						return err
					}
				}
				if d.Content != nil {
					if err := blocks.Text(*d.Content); err != nil {
						return err
					}
				}
				if d.Refusal != nil {
					if err := blocks.Text(*d.Refusal); err != nil {
						return err
					}
				}
				for i, tc := range d.ToolCalls {
					key := i
					if tc.Index != nil {
						key = *tc.Index
					}
					if _, known := blocks.tools[key]; !known {
						if err := blocks.ToolStart(key, tc.ID, tc.Function.Name); err != nil {
							return err
						}
					}
					if err := blocks.ToolDelta(key, tc.Function.Arguments); err != nil {
						return err
					}
				}
			}
			if cho.FinishReason != "" && !stopped {
				if err := blocks.Close(); err != nil {
					return err
				}
				stopped = true
				matched := matchedStop(cho.StopReason, req.StopSequences)
				sr := StopReason(cho.FinishReason, matched)
				if sr == provider.EndTurn && blocks.SawTool() {
					sr = provider.ToolUseStop // some servers say "stop" after tool calls
				}
				if err := emit(provider.Event{Type: provider.MessageStopEvent, StopReason: sr, StopSequence: matched}); err != nil {
					return err
				}
			}
		}
	}
}
