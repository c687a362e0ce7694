package llm

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/outcrop/outcrop/internal/engine/tensor"
	"github.com/outcrop/outcrop/internal/engine/vmath"
)

// maxBatch is how many prompt tokens one batched forward pass processes;
// longer prompts run in chunks of this size.
const maxBatch = 128

// Session is one sequence's state: a KV cache of up to MaxTokens positions
// and the scratch buffers of the forward pass. A Session is not safe for
// concurrent use; sessions of the same Model may run concurrently (they
// then share the Model's worker pool, which serializes matrix products).
type Session struct {
	m   *Model
	max int

	// tokens are the tokens whose keys and values are in the cache, in
	// position order.
	tokens []int32
	kc, vc [][]uint16 // per layer: max × kvDim, half precision

	// Scratch, sized for maxBatch tokens.
	batch      int
	x, xn, tmp []float32     // batch × dim
	q, att     []float32     // batch × qDim
	kf, vf     []float32     // batch × kvDim, before conversion to F16
	ffA, ffB   []float32     // batch × ff
	cos, sin   []float32     // batch × ropeDim/2
	attn       []attnScratch // per pool worker
	logits     []float32     // vocab
	qkv        [3]tensor.Product
	gateUp     [2]tensor.Product
	one        [1]int32

	// Attention job parameters, read by attnFn (a method value bound
	// once, so Pool.Parallel calls do not allocate).
	attnFn           func(w, lo, hi int)
	attnLayer, attnN int
	attnPos0         int
}

// NewSession returns a session whose KV cache holds maxTokens positions
// (prompt plus output). maxTokens must be positive; it is capped at the
// model's context length when the file declares one.
func (m *Model) NewSession(maxTokens int) (*Session, error) {
	hp := &m.hp
	if maxTokens <= 0 {
		return nil, fmt.Errorf("new session: maxTokens %d must be positive", maxTokens)
	}
	if hp.ctx > 0 {
		maxTokens = min(maxTokens, hp.ctx)
	}
	b := min(maxBatch, maxTokens)
	s := &Session{
		m: m, max: maxTokens, batch: b,
		tokens: make([]int32, 0, maxTokens),
		kc:     make([][]uint16, hp.layers),
		vc:     make([][]uint16, hp.layers),
		x:      make([]float32, b*hp.dim),
		xn:     make([]float32, b*hp.dim),
		tmp:    make([]float32, b*hp.dim),
		q:      make([]float32, b*hp.qDim()),
		att:    make([]float32, b*hp.qDim()),
		kf:     make([]float32, b*hp.kvDim()),
		vf:     make([]float32, b*hp.kvDim()),
		ffA:    make([]float32, b*hp.ff),
		ffB:    make([]float32, b*hp.ff),
		cos:    make([]float32, b*hp.ropeDim/2),
		sin:    make([]float32, b*hp.ropeDim/2),
		attn:   make([]attnScratch, m.pool.Threads()),
		logits: make([]float32, hp.vocab),
	}
	for h := range s.attn {
		s.attn[h] = attnScratch{scores: make([]float32, maxTokens)}
	}
	for l := range s.kc {
		s.kc[l] = make([]uint16, maxTokens*hp.kvDim())
		s.vc[l] = make([]uint16, maxTokens*hp.kvDim())
	}
	s.attnFn = s.attention
	return s, nil
}

// MaxTokens returns the KV-cache capacity in positions.
func (s *Session) MaxTokens() int { return s.max }

// Len returns how many positions of the cache are filled.
func (s *Session) Len() int { return len(s.tokens) }

// Tokens returns the tokens in the cache. The slice is valid until the
// next call that changes the session.
func (s *Session) Tokens() []int32 { return s.tokens }

// Reset empties the cache.
func (s *Session) Reset() { s.tokens = s.tokens[:0] }

// Truncate keeps the first n cached positions and drops the rest.
func (s *Session) Truncate(n int) {
	if n >= 0 && n < len(s.tokens) {
		s.tokens = s.tokens[:n]
	}
}

// ErrContextFull is returned (wrapped) when tokens do not fit in the
// session's KV cache.
var ErrContextFull = errors.New("context window is full")

// Batch sizes: the kernels for one input (decode) and for several
// (prefill) round differently, so the logits of a token depend on whether
// it ran alone. Eval never ends a multi-token call with a batch of one,
// and Generate re-evaluates at least two prompt tokens when it reuses a
// cached prefix, so the same prompt gives bit-identical logits whether or
// not a prefix was cached.

// Eval appends tokens to the sequence, running them through the model in
// batches, and returns the logits of the last one. The returned slice is
// the session's buffer: valid until the next call, and callers may modify
// it. ctx is checked between batches.
func (s *Session) Eval(ctx context.Context, tokens []int32) ([]float32, error) {
	if len(tokens) == 0 {
		return nil, errors.New("eval: no tokens")
	}
	if len(s.tokens)+len(tokens) > s.max {
		return nil, fmt.Errorf("eval %d tokens after %d: %w (%d positions)", len(tokens), len(s.tokens), ErrContextFull, s.max)
	}
	for _, id := range tokens {
		if id < 0 || int(id) >= s.m.hp.vocab {
			return nil, fmt.Errorf("eval: token id %d out of range [0,%d)", id, s.m.hp.vocab)
		}
	}
	for len(tokens) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(len(tokens), s.batch)
		if len(tokens)-n == 1 && n > 2 {
			n-- // never leave a last batch of one token (see above)
		}
		s.forward(tokens[:n], n == len(tokens))
		tokens = tokens[n:]
	}
	return s.logits, nil
}

// forward runs n ≤ batch tokens at the next positions, appends them to
// the cache and, if logits, computes the last token's logits.
func (s *Session) forward(tokens []int32, logits bool) {
	m, hp, pool := s.m, &s.m.hp, s.m.pool
	n, pos0 := len(tokens), len(s.tokens)
	dim, qd, kvd, ff := hp.dim, hp.qDim(), hp.kvDim(), hp.ff
	x, xn, tmp := s.x[:n*dim], s.xn[:n*dim], s.tmp[:n*dim]
	q, att := s.q[:n*qd], s.att[:n*qd]
	ffA, ffB := s.ffA[:n*ff], s.ffB[:n*ff]

	for i, id := range tokens {
		m.embd.Row(int(id), x[i*dim:(i+1)*dim])
	}
	s.ropeTables(pos0, n)
	for l := range m.layers {
		L := &m.layers[l]
		rmsNormRows(xn, x, L.attnNorm, dim, hp.eps)
		k, v := s.kf[:n*kvd], s.vf[:n*kvd]
		s.qkv = [3]tensor.Product{{Dst: q, M: L.q}, {Dst: k, M: L.k}, {Dst: v, M: L.v}}
		pool.MatMulMulti(xn, n, s.qkv[:])
		addBiasRows(q, L.bq)
		addBiasRows(k, L.bk)
		addBiasRows(v, L.bv)
		s.rope(q, hp.heads, n)
		s.rope(k, hp.kvHeads, n)
		// The cache keeps keys and values in half precision, as
		// llama.cpp's default F16 cache does: half the memory, and
		// logits that follow the reference implementation more
		// closely (its greedy answers on near-ties).
		tensor.ToHalf(s.kc[l][pos0*kvd:(pos0+n)*kvd], k)
		tensor.ToHalf(s.vc[l][pos0*kvd:(pos0+n)*kvd], v)

		s.attnLayer, s.attnN, s.attnPos0 = l, n, pos0
		pool.ParallelW(hp.heads*n, s.attnFn)

		pool.MatMul(tmp, L.o, att, n)
		addInto(x, tmp)

		rmsNormRows(xn, x, L.ffnNorm, dim, hp.eps)
		s.gateUp = [2]tensor.Product{{Dst: ffA, M: L.gate}, {Dst: ffB, M: L.up}}
		pool.MatMulMulti(xn, n, s.gateUp[:])
		vmath.SwiGLU(ffA, ffB)
		pool.MatMul(tmp, L.down, ffA, n)
		addInto(x, tmp)
	}
	s.tokens = append(s.tokens, tokens...)
	if logits {
		last := x[(n-1)*dim : n*dim]
		rmsNormRows(xn[:dim], last, m.outNorm, dim, hp.eps)
		pool.MatVec(s.logits, m.output, xn[:dim])
	}
}

// ropeTables fills cos/sin for positions pos0 … pos0+n-1.
func (s *Session) ropeTables(pos0, n int) {
	inv := s.m.invFreq
	h := len(inv)
	for i := 0; i < n; i++ {
		p := float64(pos0 + i)
		for j, f := range inv {
			sn, cs := math.Sincos(p * f)
			s.cos[i*h+j], s.sin[i*h+j] = float32(cs), float32(sn)
		}
	}
}

// rope rotates the first ropeDim dimensions of every head of n rows of x
// (each row heads × headDim) in place.
func (s *Session) rope(x []float32, heads, n int) {
	hp := &s.m.hp
	hd, half := hp.headDim, hp.ropeDim/2
	neox := s.m.ropeStyle == RopeNeox
	for i := 0; i < n; i++ {
		cs, sn := s.cos[i*half:(i+1)*half], s.sin[i*half:(i+1)*half]
		row := x[i*heads*hd : (i+1)*heads*hd]
		for h := 0; h < heads; h++ {
			v := row[h*hd : (h+1)*hd]
			if neox {
				a, b := v[:half], v[half:2*half]
				for j := range a {
					x0, x1 := a[j], b[j]
					a[j] = x0*cs[j] - x1*sn[j]
					b[j] = x0*sn[j] + x1*cs[j]
				}
			} else {
				for j := 0; j < half; j++ {
					x0, x1 := v[2*j], v[2*j+1]
					v[2*j] = x0*cs[j] - x1*sn[j]
					v[2*j+1] = x0*sn[j] + x1*cs[j]
				}
			}
		}
	}
}

// attention computes items [lo,hi) of the current batch on worker w, item
// k being head k/n of token k%n (n the batch size): causal softmax
// attention of the token's query over the cached keys and values of the
// head's KV group. Splitting by token as well as by head keeps both
// threads busy on a prompt batch, whose later tokens attend to more
// positions.
func (s *Session) attention(w, lo, hi int) {
	hp := &s.m.hp
	hd, qd, kvd := hp.headDim, hp.qDim(), hp.kvDim()
	group := hp.heads / hp.kvHeads
	kc, vc := s.kc[s.attnLayer], s.vc[s.attnLayer]
	scale := float32(1 / math.Sqrt(float64(hd)))
	a := &s.attn[w]
	for k := lo; k < hi; k++ {
		h, i := k/s.attnN, k%s.attnN
		g := h / group
		q := s.q[i*qd+h*hd : i*qd+(h+1)*hd]
		npos := s.attnPos0 + i + 1
		sc := a.scores[:npos]
		tensor.ScoresF16(sc, q, kc[g*hd:], kvd, scale)
		vmath.SoftmaxRows(sc, npos, 1, npos, 1)
		tensor.WeightedSumF16(s.att[i*qd+h*hd:i*qd+(h+1)*hd], sc, vc[g*hd:], kvd)
	}
}
