package openaicompat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/wirejson"
)

// Blocks turns a stream of text, reasoning and tool-call fragments into
// canonical events with Converse's content-block indexes, counting up from
// 0. Text and reasoning blocks end (BlockStop) when any other block
// begins; tool blocks begin with BlockStart and stay open while other tool
// calls stream (some servers interleave parallel calls), until text,
// reasoning or the end of the message closes them.
type Blocks struct {
	Emit func(provider.Event) error

	plain     int       // index of the open text or reasoning block, or -1
	plainKind blockKind // its kind
	next      int       // index of the next block
	tools     map[int]int
	open      map[int]bool // open tool blocks by index
	saw       bool
}

type blockKind int8

const (
	noKind blockKind = iota
	textKind
	reasoningKind
)

func (b *Blocks) init() {
	if b.tools == nil {
		b.tools, b.open, b.plain = map[int]int{}, map[int]bool{}, -1
	}
}

func (b *Blocks) plainDelta(k blockKind, typ provider.EventType, s string, lps ...provider.TokenLogprob) error {
	if s == "" {
		return nil
	}
	b.init()
	if b.plain < 0 || b.plainKind != k {
		if err := b.Close(); err != nil {
			return err
		}
		b.plain, b.plainKind = b.next, k
		b.next++
	}
	return b.Emit(provider.Event{Type: typ, Index: b.plain, Text: s, Logprobs: lps})
}

// Text emits a text fragment, with the log probabilities of its tokens
// when the upstream sent them.
func (b *Blocks) Text(s string, lps ...provider.TokenLogprob) error {
	return b.plainDelta(textKind, provider.TextDeltaEvent, s, lps...)
}

// Reasoning emits a fragment of reasoning text.
func (b *Blocks) Reasoning(s string) error {
	return b.plainDelta(reasoningKind, provider.ReasoningDeltaEvent, s)
}

// ToolStart begins tool call key (the upstream's index of the call).
func (b *Blocks) ToolStart(key int, id, name string) error {
	if name == "" {
		return fault.New(fault.ModelFailed, "The backend streamed a tool call without a tool name.")
	}
	b.init()
	if _, dup := b.tools[key]; dup {
		return fault.New(fault.ModelFailed, "The backend streamed the same tool call twice.")
	}
	if err := b.closePlain(); err != nil {
		return err
	}
	idx := b.next
	b.next++
	b.tools[key], b.open[idx], b.saw = idx, true, true
	return b.Emit(provider.Event{Type: provider.BlockStartEvent, Index: idx, ToolUse: &provider.ToolUse{ID: id, Name: name}})
}

// Started says whether tool call key has begun.
func (b *Blocks) Started(key int) bool {
	_, ok := b.tools[key]
	return ok
}

// ToolDelta emits a fragment of tool call key's input JSON.
func (b *Blocks) ToolDelta(key int, frag string) error {
	if frag == "" {
		return nil
	}
	idx, ok := b.tools[key]
	if !ok {
		return fault.New(fault.ModelFailed, "The backend streamed tool input before naming the tool.")
	}
	if !b.open[idx] {
		return fault.New(fault.ModelFailed, "The backend streamed tool input after the tool call ended.")
	}
	return b.Emit(provider.Event{Type: provider.ToolInputDeltaEvent, Index: idx, Text: frag})
}

func (b *Blocks) closePlain() error {
	if b.plain < 0 {
		return nil
	}
	idx := b.plain
	b.plain = -1
	return b.Emit(provider.Event{Type: provider.BlockStopEvent, Index: idx})
}

// Close ends every open block, in index order.
func (b *Blocks) Close() error {
	b.init()
	if err := b.closePlain(); err != nil {
		return err
	}
	for idx := 0; idx < b.next && len(b.open) > 0; idx++ {
		if b.open[idx] {
			delete(b.open, idx)
			if err := b.Emit(provider.Event{Type: provider.BlockStopEvent, Index: idx}); err != nil {
				return err
			}
		}
	}
	return nil
}

// SawTool says whether a tool call was streamed.
func (b *Blocks) SawTool() bool { return b.saw }

// NewToolUseID names a tool call that an upstream sent without an id.
func NewToolUseID() string {
	var b [12]byte
	rand.Read(b[:])
	return "tooluse_" + hex.EncodeToString(b[:])
}

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
	more := false // the next chunk is already buffered (provider.Event.More)
	blocks := &Blocks{Emit: func(ev provider.Event) error {
		ev.More = more
		return emit(ev)
	}}
	started, stopped := false, false
	var usage provider.Usage
	var raw []byte // each chunk's JSON, in one reused buffer
	start := func() error {
		if started {
			return nil
		}
		started = true
		return emit(provider.Event{Type: provider.MessageStartEvent, More: more})
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
		more = sse.Pending()
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
		raw = append(raw[:0], ev.Data...)
		if err := wirejson.Unmarshal(raw, &ch); err != nil {
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
				if d.ReasoningContent == nil {
					d.ReasoningContent = d.Reasoning
				}
				if d.ReasoningContent != nil {
					if err := blocks.Reasoning(*d.ReasoningContent); err != nil {
						return err
					}
				}
				if d.Content != nil {
					if err := blocks.Text(*d.Content, cho.Logprobs.canonical()...); err != nil {
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
					if !blocks.Started(key) {
						id := tc.ID
						if id == "" {
							id = NewToolUseID()
						}
						if err := blocks.ToolStart(key, id, tc.Function.Name); err != nil {
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
				if blocks.SawTool() && (sr == provider.EndTurn || sr == provider.StopSequence) {
					sr, matched = provider.ToolUseStop, "" // some servers say "stop" after tool calls
				}
				if err := emit(provider.Event{Type: provider.MessageStopEvent, StopReason: sr, StopSequence: matched, More: more}); err != nil {
					return err
				}
			}
		}
	}
}
