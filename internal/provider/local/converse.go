package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/outcrop/outcrop/internal/engine/chat"
	"github.com/outcrop/outcrop/internal/engine/grammar"
	"github.com/outcrop/outcrop/internal/engine/llm"
	"github.com/outcrop/outcrop/internal/engine/sample"
	"github.com/outcrop/outcrop/internal/engine/tokenizer"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/span"
)

// Converse runs a request to the end and collects the stream.
func (a *Adapter) Converse(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	resp := &provider.Response{Message: provider.Message{Role: provider.Assistant}}
	var text strings.Builder
	err := a.ConverseStream(ctx, req, func(ev provider.Event) error {
		switch ev.Type {
		case provider.TextDeltaEvent:
			text.WriteString(ev.Text)
			resp.Logprobs = append(resp.Logprobs, ev.Logprobs...)
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
	resp.Message.Content = []provider.Block{{Type: provider.TextBlock, Text: text.String()}}
	return resp, nil
}

// ConverseStream generates with the model's own chat template and emits
// MessageStart, the text deltas, BlockStop, MessageStop and Metadata.
// Errors before generation starts (bad input, context overflow, a full
// queue, missing weights) are returned before any event. When ctx ends —
// the client went away — generation stops at the next token.
func (a *Adapter) ConverseStream(ctx context.Context, req *provider.Request, emit func(provider.Event) error) error {
	p, err := samplingParams(req)
	if err != nil {
		return err
	}
	var prompt []int32
	var window int
	var vocab *tokenizer.Tokenizer
	// Engine phases are child spans of the backend call when tracing is on
	// (docs/metrics.md): tokenize (which waits for the model to load),
	// queue (for a free sequence slot), prefill (to the first token) and
	// decode.
	_, tok := span.Start(ctx, "engine.tokenize")
	err = a.sched.Use(ctx, req.Model, func(m *model) error {
		if m.chat == nil {
			return fault.Newf(fault.Invalid, "Model %s is an embedding model; it cannot generate text.", req.Model)
		}
		window = m.ctx
		vocab = m.chat.Tokenizer()
		if req.Format != nil {
			// The model is told what to write, and decoding is
			// constrained so that what it writes is a JSON object that
			// follows the schema, if there is one.
			var sc *grammar.Schema
			if req.Format.Type == provider.JSONSchema && len(req.Format.Schema) > 0 {
				if sc, err = grammar.CompileSchema(req.Format.Schema); err != nil {
					return fault.Wrap(fault.Invalid, err, "The response format's JSON schema must be a JSON object.")
				}
			}
			p.Constraint = m.chat.JSONConstraint(sc, true)
		}
		prompt, err = m.promptTokens(withFormat(req))
		return err
	})
	tok.End(err)
	if err != nil {
		return err
	}
	if p.MaxTokens, err = outputLimit(len(prompt), req.MaxTokens, window); err != nil {
		return err
	}
	_, queue := span.Start(ctx, "engine.queue")
	lease, err := a.sched.Acquire(ctx, req.Model, longestPrefix(prompt))
	queue.End(err)
	if err != nil {
		return err
	}
	defer lease.Release()
	batchTail(lease.Session, prompt)

	if err := emit(provider.Event{Type: provider.MessageStartEvent}); err != nil {
		return err
	}
	start := time.Now()
	var first time.Duration
	var emitErr error
	_, prefill := span.Start(ctx, "engine.prefill")
	if prefill.Recording() {
		prefill.Set(span.Int("outcrop.engine.prompt_tokens", len(prompt)))
	}
	var decode span.Span
	// Log probabilities of tokens whose text is held back (part of a
	// character, or of a possible stop sequence) go out with the delta
	// that releases it.
	var pending []provider.TokenLogprob
	res, err := lease.Session.Generate(ctx, prompt, p, func(tk llm.Token) bool {
		if first == 0 {
			first = time.Since(start)
			prefill.End(nil)
			_, decode = span.Start(ctx, "engine.decode")
		}
		if p.Logprobs && tk.ID >= 0 {
			pending = append(pending, tokenLogprob(vocab, tk))
		}
		if tk.Text == "" {
			return true
		}
		emitErr = emit(provider.Event{Type: provider.TextDeltaEvent, Text: tk.Text, Logprobs: pending})
		pending = nil
		return emitErr == nil
	})
	if first == 0 {
		prefill.End(err) // no token was sampled
	}
	if decode.Recording() {
		decode.Set(span.Int("outcrop.engine.cached_tokens", res.CachedTokens), span.Int("outcrop.engine.output_tokens", res.OutputTokens))
	}
	decode.End(errors.Join(emitErr, err))
	if emitErr != nil {
		return emitErr
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fault.Wrap(fault.ModelFailed, err, "The local model failed while generating.")
	}
	total := time.Since(start)
	a.log.DebugContext(ctx, "generated", "model", req.Model, "prompt_tokens", res.PromptTokens, "cached_tokens", res.CachedTokens,
		"output_tokens", res.OutputTokens, "first_token_seconds", first.Seconds(), "seconds", total.Seconds())
	stop := provider.EndTurn
	switch res.StopReason {
	case sample.MaxTokens:
		stop = provider.MaxTokens
	case sample.StopSequence:
		stop = provider.StopSequence
	}
	for _, ev := range []provider.Event{
		{Type: provider.BlockStopEvent},
		{Type: provider.MessageStopEvent, StopReason: stop, StopSequence: res.StopSequence},
		{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: res.PromptTokens, OutputTokens: res.OutputTokens}},
	} {
		if err := emit(ev); err != nil {
			return err
		}
	}
	return nil
}

// ReportsLogprobs reports that the engine honours Request.Logprobs: the
// log-softmax of the logits each token was sampled from (after the
// repetition penalty and any JSON constraint, before temperature).
func (a *Adapter) ReportsLogprobs() bool { return true }

func tokenLogprob(tok *tokenizer.Tokenizer, tk llm.Token) provider.TokenLogprob {
	out := provider.TokenLogprob{Token: tok.Piece(tk.ID), Logprob: float64(tk.Logprob)}
	for _, t := range tk.Top {
		out.Top = append(out.Top, provider.TopLogprob{Token: tok.Piece(t.ID), Logprob: float64(t.Logprob)})
	}
	return out
}

// FormatsOutput reports that the engine honours Request.Format: decoding
// is constrained to a JSON object that follows the schema (the parts of
// JSON Schema that grammar.Schema models), which is also given to the
// model in the system prompt.
func (a *Adapter) FormatsOutput() bool { return true }

// withFormat returns req with its output format's instruction appended to
// the system prompt (req itself when it has no format or is a raw prompt).
func withFormat(req *provider.Request) *provider.Request {
	f := req.Format
	if f == nil || req.Raw {
		return req
	}
	instr := "Answer with a single JSON object and nothing else."
	if f.Type == provider.JSONSchema && len(f.Schema) > 0 {
		instr = "Answer with a single JSON object and nothing else. It must match this JSON schema:\n" + string(f.Schema)
	}
	if provider.TextOf(req.System) != "" {
		instr = "\n\n" + instr
	}
	r := *req
	r.System = append(append([]provider.Block(nil), req.System...), provider.Block{Type: provider.TextBlock, Text: instr})
	return &r
}

// CountTokens returns the exact number of prompt tokens req becomes, chat
// template included.
func (a *Adapter) CountTokens(ctx context.Context, req *provider.Request) (int, error) {
	n := 0
	err := a.sched.Use(ctx, req.Model, func(m *model) error {
		if m.chat == nil {
			n = 0
			for _, t := range textsOf(req) {
				n += m.embed.CountTokens(t)
			}
			return nil
		}
		toks, err := m.promptTokens(withFormat(req))
		n = len(toks)
		return err
	})
	return n, err
}

func textsOf(req *provider.Request) []string {
	if req.Raw {
		return []string{req.Prompt}
	}
	out := []string{provider.TextOf(req.System)}
	for _, m := range req.Messages {
		out = append(out, provider.TextOf(m.Content))
	}
	return out
}

// outputLimit returns the output token limit for a prompt of n tokens in
// a window of w: the requested limit, which must fit, or
// DefaultMaxTokens reduced to what fits.
func outputLimit(n, requested, w int) (int, error) {
	if requested > 0 {
		if n+requested > w {
			return 0, fault.Newf(fault.Invalid, "The prompt is %d tokens and maxTokens is %d: together they exceed this model's context window of %d tokens. Shorten the prompt or lower maxTokens.", n, requested, w)
		}
		return requested, nil
	}
	if n >= w {
		return 0, fault.Newf(fault.Invalid, "The prompt is %d tokens, which does not fit this model's context window of %d tokens.", n, w)
	}
	return min(DefaultMaxTokens, w-n), nil
}

// longestPrefix picks the idle session whose cache shares the longest
// prefix with prompt, so multi-turn conversations reuse their KV entries.
func longestPrefix(prompt []int32) func([]*llm.Session) int {
	return func(idle []*llm.Session) int {
		best, at := -1, -1
		for i, s := range idle {
			toks := s.Tokens()
			n := 0
			for n < len(toks) && n < len(prompt) && toks[n] == prompt[n] {
				n++
			}
			if n > best {
				best, at = n, i
			}
		}
		return at
	}
}

// batchTail makes sure at least the last two prompt tokens are evaluated
// together. The engine computes a lone token on its single-token path,
// whose rounding differs from the batched path's; without this, a
// repeated request (whose prompt is all cached) would get different
// logits than the same request on a fresh session, and temperature 0
// would not give the same answer twice.
func batchTail(s *llm.Session, prompt []int32) {
	toks := s.Tokens()
	n := 0
	for n < len(toks) && n < len(prompt) && toks[n] == prompt[n] {
		n++
	}
	if len(prompt) >= 2 && n >= len(prompt)-1 {
		s.Truncate(len(prompt) - 2)
	}
}

// extra holds the sampling fields read from additionalModelRequestFields.
type extra struct {
	TopK          *int     `json:"top_k"`
	MinP          *float64 `json:"min_p"`
	RepeatPenalty *float64 `json:"repeat_penalty"`
}

// samplingParams maps the request's inference settings to the sampler.
func samplingParams(req *provider.Request) (sample.Params, error) {
	p := sample.Params{Temperature: DefaultTemperature, TopP: DefaultTopP, Stop: req.StopSequences,
		Logprobs: req.Logprobs, TopLogprobs: req.TopLogprobs}
	if req.Temperature != nil {
		p.Temperature = float32(*req.Temperature)
	}
	if req.TopP != nil {
		p.TopP = float32(*req.TopP)
	}
	if req.TopK != nil {
		p.TopK = *req.TopK
	}
	if len(req.Extra) > 0 {
		var x extra
		if err := json.Unmarshal(req.Extra, &x); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return p, fault.Newf(fault.Invalid, "additionalModelRequestFields.%s must be a number.", te.Field)
			}
		}
		if x.TopK != nil && req.TopK == nil {
			p.TopK = *x.TopK
		}
		if x.MinP != nil {
			p.MinP = float32(*x.MinP)
		}
		if x.RepeatPenalty != nil {
			p.RepeatPenalty = float32(*x.RepeatPenalty)
		}
	}
	if p.TopK < 0 {
		return p, fault.Newf(fault.Invalid, "top_k must not be negative, got %d.", p.TopK)
	}
	if req.Seed != nil {
		p.Seed = uint64(*req.Seed)
	} else {
		p.Seed = rand.Uint64()
	}
	return p, nil
}

// promptTokens renders req with the model's template (or takes the raw
// prompt verbatim) and tokenizes it, control tokens included.
func (m *model) promptTokens(req *provider.Request) ([]int32, error) {
	tok := m.chat.Tokenizer()
	text := req.Prompt
	if !req.Raw {
		var err error
		if text, err = m.render(req); err != nil {
			return nil, err
		}
	}
	ids := tok.Encode(text, true)
	// A template that writes bos_token itself and a vocabulary that adds
	// BOS would otherwise start with two.
	if b := tok.BOS(); b >= 0 && len(ids) > 1 && ids[0] == b && ids[1] == b {
		ids = ids[1:]
	}
	if len(ids) == 0 {
		return nil, fault.New(fault.Invalid, "The prompt is empty.")
	}
	return ids, nil
}

// prefillMark stands in for an assistant prefill while rendering, to find
// where the template puts the assistant's text.
const prefillMark = "\u2063outcrop-prefill\u2063"

// render applies the chat template. A conversation that ends with an
// assistant turn is a prefill: the prompt ends with that turn's text, not
// with the template's end-of-turn, so the model continues it.
func (m *model) render(req *provider.Request) (string, error) {
	msgs, err := chatMessages(req, m.tmpl.SupportsSystem())
	if err != nil {
		return "", err
	}
	tok := m.chat.Tokenizer()
	opts := chat.Options{BOS: tok.TokenText(tok.BOS()), EOS: tok.TokenText(tok.EOS()), AddGenerationPrompt: true}
	for _, t := range req.Tools {
		opts.Tools = append(opts.Tools, chat.Tool{Name: t.Name, Description: t.Description, Parameters: t.Schema})
	}
	last := len(msgs) - 1
	if last < 0 || msgs[last].Role != "assistant" {
		return m.renderChecked(msgs, opts)
	}
	prefill := msgs[last].Content
	msgs[last].Content = prefillMark
	opts.AddGenerationPrompt = false
	out, err := m.renderChecked(msgs, opts)
	if err != nil {
		return "", err
	}
	if i := strings.LastIndex(out, prefillMark); i >= 0 {
		return out[:i] + prefill, nil
	}
	// The template dropped the text: open a new assistant turn instead.
	opts.AddGenerationPrompt = true
	out, err = m.renderChecked(msgs[:last], opts)
	return out + prefill, err
}

func (m *model) renderChecked(msgs []chat.Message, opts chat.Options) (string, error) {
	out, err := m.tmpl.Render(msgs, opts)
	if err != nil {
		return "", fault.Wrap(fault.Invalid, err, "The model's chat template rejected this conversation.")
	}
	return out, nil
}

// textFormats are the document formats read as text.
var textFormats = map[string]bool{"txt": true, "md": true, "csv": true, "html": true, "": true}

// chatMessages maps canonical messages to template messages: the system
// blocks become a system message (folded into the first user turn when
// the template has no system role), documents become text, tool results
// become tool messages.
func chatMessages(req *provider.Request, system bool) ([]chat.Message, error) {
	var out []chat.Message
	sys := provider.TextOf(blocksAsText(req.System))
	if sys != "" && system {
		out = append(out, chat.Message{Role: "system", Content: sys})
	}
	for _, msg := range req.Messages {
		var text strings.Builder
		var calls []chat.ToolCall
		for _, b := range msg.Content {
			switch b.Type {
			case provider.TextBlock, provider.GuardBlock:
				text.WriteString(b.Text)
			case provider.ImageBlock:
				return nil, fault.New(fault.Invalid, "This model doesn't support image input.")
			case provider.DocumentBlock:
				s, err := documentText(b.Document)
				if err != nil {
					return nil, err
				}
				if text.Len() > 0 {
					text.WriteString("\n\n")
				}
				text.WriteString(s)
			case provider.ToolUseBlock:
				calls = append(calls, chat.ToolCall{ID: b.ToolUse.ID, Name: b.ToolUse.Name, Arguments: b.ToolUse.Input})
			case provider.ToolResultBlock:
				s, err := toolResultText(b.ToolResult)
				if err != nil {
					return nil, err
				}
				out = append(out, chat.Message{Role: "tool", Content: s, ToolCallID: b.ToolResult.ToolUseID})
			}
		}
		role := "user"
		if msg.Role == provider.Assistant {
			role = "assistant"
		}
		if text.Len() == 0 && len(calls) == 0 {
			continue // a turn of only tool results, or of reasoning
		}
		out = append(out, chat.Message{Role: role, Content: text.String(), ToolCalls: calls})
	}
	if sys != "" && !system {
		for i := range out {
			if out[i].Role == "user" {
				out[i].Content = sys + "\n\n" + out[i].Content
				break
			}
		}
	}
	return out, nil
}

func blocksAsText(bs []provider.Block) []provider.Block {
	out := make([]provider.Block, 0, len(bs))
	for _, b := range bs {
		if b.Type == provider.TextBlock || b.Type == provider.GuardBlock {
			out = append(out, provider.Block{Type: provider.TextBlock, Text: b.Text})
		}
	}
	return out
}

func documentText(d *provider.Document) (string, error) {
	body := d.Text
	if body == "" {
		if !textFormats[d.Format] || !utf8.Valid(d.Data) {
			return "", fault.Newf(fault.Invalid, "This model reads only text documents (txt, md, csv, html); the %s document %q must be converted to text first.", d.Format, d.Name)
		}
		body = string(d.Data)
	}
	if d.Name == "" {
		return body, nil
	}
	return fmt.Sprintf("Document %s:\n%s", d.Name, body), nil
}

func toolResultText(r *provider.ToolResult) (string, error) {
	var sb strings.Builder
	for _, b := range r.Content {
		switch b.Type {
		case provider.TextBlock:
			sb.WriteString(b.Text)
		case provider.JSONBlock:
			sb.Write(b.JSON)
		case provider.DocumentBlock:
			s, err := documentText(b.Document)
			if err != nil {
				return "", err
			}
			sb.WriteString(s)
		case provider.ImageBlock:
			return "", fault.New(fault.Invalid, "This model doesn't support image input.")
		}
	}
	if r.Status == "error" {
		return "Error: " + sb.String(), nil
	}
	return sb.String(), nil
}
