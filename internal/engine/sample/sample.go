// Package sample picks the next token from a model's logits (temperature,
// top-k, top-p, min-p, repetition penalty, seeded randomness) and matches
// stop sequences across token boundaries.
//
// A Sampler is per sequence and not safe for concurrent use. After New it
// allocates nothing: its candidate buffers are sized for the vocabulary up
// front.
package sample

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// Params configures sampling and stopping for one generation. The zero
// value is greedy decoding with no penalty, no stop sequences and no
// token limit.
type Params struct {
	// Temperature divides the logits; 0 (or less) selects the most likely
	// token (greedy) and ignores TopK, TopP, MinP and Seed.
	Temperature float32
	// TopK keeps only the K most likely tokens; 0 disables it.
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probabilities
	// sum to at least TopP (nucleus sampling); 0 or ≥ 1 disables it.
	TopP float32
	// MinP drops tokens whose probability is below MinP times that of the
	// most likely token; 0 disables it.
	MinP float32
	// RepeatPenalty divides positive logits (and multiplies negative ones)
	// of tokens seen in the last RepeatWindow tokens; 0 or 1 disables it.
	RepeatPenalty float32
	// RepeatWindow is how many recent tokens RepeatPenalty looks at;
	// 0 means DefaultRepeatWindow.
	RepeatWindow int
	// Seed seeds the random source. The same seed, parameters and logits
	// give the same tokens.
	Seed uint64
	// MaxTokens limits the number of generated tokens; 0 means no limit
	// other than the context size.
	MaxTokens int
	// Stop lists stop sequences: generation ends before the first
	// occurrence of any of them, and its text is never emitted.
	Stop []string
	// Logprobs asks the generation loop for each sampled token's log
	// probability, and TopLogprobs for that many most likely tokens at its
	// position.
	Logprobs    bool
	TopLogprobs int
	// Constraint, when set, limits which tokens may be sampled (a
	// grammar such as JSON); the generation loop masks the logits with
	// it before each sample and passes it each sampled token.
	Constraint Constraint
}

// Constraint limits which tokens may come next.
type Constraint interface {
	// Mask sets the logits of the tokens that may not come next to -Inf.
	Mask(logits []float32)
	// Accept advances past a sampled token; false means the token broke
	// the constraint.
	Accept(id int32) bool
}

// DefaultRepeatWindow is the repetition-penalty window used when
// Params.RepeatWindow is 0 (llama.cpp's default).
const DefaultRepeatWindow = 64

// Stop reasons reported by the generation loop.
const (
	EndTurn      = "end_turn"      // the model produced an end-of-turn token
	MaxTokens    = "max_tokens"    // the token limit or the context size was reached
	StopSequence = "stop_sequence" // a stop sequence matched
)

// Sampler draws tokens according to Params.
type Sampler struct {
	p     Params
	rng   *rand.Rand
	cands []cand
	seen  []bool // by token id, for the repetition penalty
}

type cand struct {
	id int32
	v  float32 // logit, then probability
}

// New returns a sampler for a vocabulary of vocab tokens.
func New(p Params, vocab int) *Sampler {
	if p.RepeatWindow == 0 {
		p.RepeatWindow = DefaultRepeatWindow
	}
	return &Sampler{
		p:     p,
		rng:   rand.New(rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15)),
		cands: make([]cand, 0, vocab),
		seen:  make([]bool, vocab),
	}
}

// Params returns the sampler's parameters.
func (s *Sampler) Params() Params { return s.p }

// Sample returns the next token for logits (one per vocabulary entry;
// modified in place by the repetition penalty). history is the sequence
// so far, prompt included; only its last RepeatWindow tokens matter.
func (s *Sampler) Sample(logits []float32, history []int32) int32 {
	if len(logits) == 0 {
		return -1
	}
	s.penalize(logits, history)
	if s.p.Temperature <= 0 {
		return argmax(logits)
	}
	c := s.cands[:0]
	inv := 1 / s.p.Temperature
	for i, v := range logits {
		if !math.IsNaN(float64(v)) {
			c = append(c, cand{int32(i), v * inv})
		}
	}
	if len(c) == 0 {
		return argmax(logits)
	}
	if k := s.p.TopK; k > 0 && k < len(c) {
		c = topK(c, k)
	}
	sorted := false
	if s.p.TopP > 0 && s.p.TopP < 1 {
		slices.SortFunc(c, byLogitDesc)
		sorted = true
	}
	// Softmax over the survivors.
	mx := c[0].v
	for _, e := range c {
		mx = max(mx, e.v)
	}
	var sum float64
	for i := range c {
		p := math.Exp(float64(c[i].v - mx))
		c[i].v = float32(p)
		sum += p
	}
	if s.p.MinP > 0 {
		// Before normalisation the top token's weight is exp(0) = 1, so
		// the threshold relative to it is MinP itself.
		cut := s.p.MinP
		n := 0
		sum = 0
		for _, e := range c {
			if e.v >= cut {
				c[n] = e
				n++
				sum += float64(e.v)
			}
		}
		c = c[:n]
	}
	if sorted {
		limit := float64(s.p.TopP) * sum
		var acc float64
		for i, e := range c {
			acc += float64(e.v)
			if acc >= limit {
				c = c[:i+1]
				sum = acc
				break
			}
		}
	}
	r := s.rng.Float64() * sum
	for _, e := range c {
		r -= float64(e.v)
		if r < 0 {
			return e.id
		}
	}
	return c[len(c)-1].id
}

// TokenProb is a token and its log probability.
type TokenProb struct {
	ID      int32
	Logprob float32
}

// LogProbs returns the log probability of id under logits (a log-softmax,
// so -Inf for masked tokens) and appends the k most likely tokens to top,
// most likely first. It allocates nothing when top has room for k.
func LogProbs(logits []float32, id int32, k int, top []TokenProb) (float32, []TokenProb) {
	mx := float32(math.Inf(-1))
	for _, v := range logits {
		mx = max(mx, v)
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v - mx))
	}
	lse := mx + float32(math.Log(sum))
	start := len(top)
	for i, v := range logits {
		if k <= 0 {
			break
		}
		if len(top)-start < k {
			top = append(top, TokenProb{int32(i), v})
		} else if v > top[len(top)-1].Logprob {
			top[len(top)-1] = TokenProb{int32(i), v}
		} else {
			continue
		}
		// Keep top[start:] sorted, most likely first (k is small).
		for j := len(top) - 1; j > start && top[j].Logprob > top[j-1].Logprob; j-- {
			top[j], top[j-1] = top[j-1], top[j]
		}
	}
	for j := start; j < len(top); j++ {
		top[j].Logprob -= lse
	}
	return logits[id] - lse, top
}

// penalize applies the repetition penalty over the recent window.
func (s *Sampler) penalize(logits []float32, history []int32) {
	pen := s.p.RepeatPenalty
	if pen <= 0 || pen == 1 {
		return
	}
	win := history[max(0, len(history)-s.p.RepeatWindow):]
	for _, id := range win {
		if id < 0 || int(id) >= len(logits) || int(id) >= len(s.seen) || s.seen[id] {
			continue
		}
		s.seen[id] = true
		if logits[id] > 0 {
			logits[id] /= pen
		} else {
			logits[id] *= pen
		}
	}
	for _, id := range win {
		if id >= 0 && int(id) < len(s.seen) {
			s.seen[id] = false
		}
	}
}

func byLogitDesc(a, b cand) int {
	if c := cmp.Compare(b.v, a.v); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// argmax returns the index of the largest logit, the lowest index on ties.
func argmax(logits []float32) int32 {
	best := 0
	for i, v := range logits {
		if v > logits[best] || math.IsNaN(float64(logits[best])) {
			best = i
		}
	}
	return int32(best)
}

// topK moves the k largest candidates to the front, sorted descending, and
// returns them. It keeps a sorted prefix and inserts into it, which is fast
// for the small k used in practice.
func topK(c []cand, k int) []cand {
	top := c[:k]
	slices.SortFunc(top, byLogitDesc)
	for _, e := range c[k:] {
		if byLogitDesc(e, top[k-1]) >= 0 {
			continue
		}
		// Insert e, dropping the last.
		i, _ := slices.BinarySearchFunc(top, e, byLogitDesc)
		copy(top[i+1:], top[i:k-1])
		top[i] = e
	}
	return top
}
