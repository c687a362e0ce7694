package llm

import (
	"context"
	"errors"
	"fmt"

	"github.com/outcrop/outcrop/internal/engine/sample"
)

// Token is one step of generated output.
type Token struct {
	// ID is the sampled token, or -1 for a final call that only carries
	// text held back earlier (see Text).
	ID int32
	// Text is the output text this step releases: the token's text once
	// it forms whole UTF-8 characters and cannot be the start of a stop
	// sequence. It may be empty, and it never contains stop-sequence text.
	Text string
	// Logprob is ID's log probability, and Top the most likely tokens at
	// its position, when sample.Params.Logprobs is set (Top is valid only
	// during the emit call).
	Logprob float32
	Top     []sample.TokenProb
}

// Result summarises one Generate call.
type Result struct {
	PromptTokens int // len(prompt)
	CachedTokens int // prompt tokens whose KV entries were reused from the previous call
	// OutputTokens counts sampled tokens, including a final end-of-turn
	// token and the token that completed a stop sequence.
	OutputTokens int
	// StopReason is sample.EndTurn, sample.MaxTokens, sample.StopSequence
	// or Halted.
	StopReason   string
	StopSequence string // the stop sequence that matched, if any
}

// Halted is the stop reason when emit returned false.
const Halted = "halted"

// Generate runs prompt through the model and samples tokens until an
// end-of-turn token, a stop sequence, p.MaxTokens, the end of the KV cache
// or until emit returns false. emit is called for each sampled token except
// an end-of-turn one, in order, and once more with ID -1 when text held
// back for stop-sequence matching is released at the end.
//
// The KV entries of the longest common prefix of prompt and the session's
// current tokens (but the last two prompt tokens) are reused, so a conversation that grows turn by turn only
// evaluates its new tokens. ctx is checked before every token; on
// cancellation Generate returns ctx's error along with the Result so far.
func (s *Session) Generate(ctx context.Context, prompt []int32, p sample.Params, emit func(Token) bool) (Result, error) {
	res := Result{PromptTokens: len(prompt)}
	if len(prompt) == 0 {
		return res, errors.New("generate: empty prompt")
	}
	if len(prompt) >= s.max {
		return res, fmt.Errorf("generate: prompt of %d tokens: %w (%d positions)", len(prompt), ErrContextFull, s.max)
	}
	c := 0
	for c < len(s.tokens) && c < len(prompt) && s.tokens[c] == prompt[c] {
		c++
	}
	// Re-run at least the last two prompt tokens: the last one must run to
	// produce logits, and running it in a batch of two or more gives the
	// same numerics as an uncached prompt (see Eval).
	c = max(0, min(c, len(prompt)-2))
	s.Truncate(c)
	res.CachedTokens = c
	logits, err := s.Eval(ctx, prompt[c:])
	if err != nil {
		return res, err
	}
	tok := s.m.tok
	smp := sample.New(p, len(logits))
	dec := tok.NewStreamDecoder()
	stop := sample.NewStopMatcher(p.Stop)
	var top []sample.TokenProb
	if p.Logprobs && p.TopLogprobs > 0 {
		top = make([]sample.TokenProb, 0, p.TopLogprobs)
	}
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if p.Constraint != nil {
			p.Constraint.Mask(logits)
		}
		id := smp.Sample(logits, s.tokens)
		res.OutputTokens++
		if tok.IsEndOfGeneration(id) {
			res.StopReason = sample.EndTurn
			break
		}
		if p.Constraint != nil && !p.Constraint.Accept(id) {
			return res, fmt.Errorf("generate: token %d breaks the output constraint", id)
		}
		tk := Token{ID: id}
		if p.Logprobs {
			tk.Logprob, tk.Top = sample.LogProbs(logits, id, p.TopLogprobs, top[:0])
		}
		text, stopped := stop.Push(dec.Add(id))
		tk.Text = text
		if !emit(tk) {
			res.StopReason = Halted
			return res, nil
		}
		if stopped {
			res.StopReason, res.StopSequence = sample.StopSequence, stop.Matched()
			return res, nil
		}
		if (p.MaxTokens > 0 && res.OutputTokens >= p.MaxTokens) || len(s.tokens) >= s.max {
			res.StopReason = sample.MaxTokens
			break
		}
		s.one[0] = id
		if logits, err = s.Eval(ctx, s.one[:]); err != nil {
			return res, err
		}
	}
	text, stopped := stop.Push(dec.Flush())
	if stopped {
		res.StopReason, res.StopSequence = sample.StopSequence, stop.Matched()
	} else {
		text += stop.Flush()
	}
	if text != "" {
		emit(Token{ID: -1, Text: text})
	}
	return res, nil
}
