package bert

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/outcrop/outcrop/internal/engine/bert/gemm"
	"github.com/outcrop/outcrop/internal/engine/vmath"
)

// maxBatchTokens bounds the tokens of one forward pass; Embed splits larger
// inputs so scratch memory stays near maxBatchTokens·intermediate floats.
const maxBatchTokens = 4096

// Row and panel blocking of the parallel steps: a task is rowBlock rows of C
// by panelGroup panels of 16 columns.
const (
	rowBlock   = 48
	panelGroup = 8
)

// scratch is the memory one forward pass works in, grown on demand and kept
// for the next call. Model.mu guards it.
type scratch struct {
	x, qkv, ctx, tmp, ffn []float32
	workers               []workerScratch
}

// workerScratch is one worker's attention memory.
type workerScratch struct {
	k, v, s []float32
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Embed returns one embedding per text, each of Dimensions() values (unit
// length when the model normalises). Texts longer than MaxTokens() tokens
// are truncated. ctx is checked between layers.
func (m *Model) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	seqs := make([][]int32, len(texts))
	for i, t := range texts {
		seqs[i] = m.tok.Encode(t, m.maxTokens)
	}
	out := make([][]float32, len(texts))
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("bert: model is closed")
	}
	for start := 0; start < len(seqs); {
		end, tokens := start, 0
		for end < len(seqs) && (end == start || tokens+len(seqs[end]) <= maxBatchTokens) {
			tokens += len(seqs[end])
			end++
		}
		if err := m.forward(ctx, seqs[start:end], out[start:end]); err != nil {
			return nil, err
		}
		start = end
	}
	return out, nil
}

// forward encodes seqs, packed end to end, and writes their pooled
// embeddings to out.
func (m *Model) forward(ctx context.Context, seqs [][]int32, out [][]float32) error {
	c := m.cfg
	h := c.Hidden
	offs := make([]int, len(seqs)+1)
	for i, s := range seqs {
		offs[i+1] = offs[i] + len(s)
	}
	total := offs[len(seqs)]
	sc := &m.scratch
	sc.x = grow(sc.x, total*h)
	sc.qkv = grow(sc.qkv, total*3*h)
	sc.ctx = grow(sc.ctx, total*h)
	sc.tmp = grow(sc.tmp, total*h)
	sc.ffn = grow(sc.ffn, total*c.Intermediate)
	x := sc.x

	for i, s := range seqs {
		for p, id := range s {
			if id < 0 || int(id) >= c.VocabSize {
				return fmt.Errorf("bert: token id %d out of range", id)
			}
			row := x[(offs[i]+p)*h : (offs[i]+p+1)*h]
			w, pe, te := m.wordEmb[int(id)*h:], m.posEmb[p*h:], m.typeEmb[:h]
			for j := range row {
				row[j] = w[j] + pe[j] + te[j]
			}
			layerNorm(row, m.embLNW, m.embLNB, m.eps)
		}
	}

	for li := range m.layers {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bert: %w", err)
		}
		m.layer(&m.layers[li], seqs, offs, total)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bert: %w", err)
	}

	for i := range seqs {
		v := make([]float32, h)
		n := offs[i+1] - offs[i]
		if m.meanPool {
			for t := offs[i]; t < offs[i+1]; t++ {
				for j, e := range x[t*h : (t+1)*h] {
					v[j] += e
				}
			}
			inv := 1 / float32(n)
			for j := range v {
				v[j] *= inv
			}
		} else {
			copy(v, x[offs[i]*h:])
		}
		if m.normalize {
			var ss float64
			for _, e := range v {
				ss += float64(e) * float64(e)
			}
			if ss > 0 {
				inv := float32(1 / max(math.Sqrt(ss), 1e-12))
				for j := range v {
					v[j] *= inv
				}
			}
		}
		out[i] = v
	}
	return nil
}

// layer runs one encoder layer in place on m.scratch.x.
func (m *Model) layer(l *layer, seqs [][]int32, offs []int, total int) {
	c := m.cfg
	h, heads, inter := c.Hidden, c.Heads, c.Intermediate
	dh := h / heads
	sc := &m.scratch
	x, qkv, cx, tmp, ffn := sc.x, sc.qkv, sc.ctx, sc.tmp, sc.ffn

	// Q, K and V for every token.
	m.linear(qkv, x, h, l.qkv, h, 3*h, l.qkvB, total, nil)

	// Attention per sequence and head.
	scale := float32(1 / math.Sqrt(float64(dh)))
	m.pool.run(len(seqs)*heads, func(w, t int) {
		s, hd := t/heads, t%heads
		n := offs[s+1] - offs[s]
		base := qkv[offs[s]*3*h:]
		ws := &sc.workers[w]
		// S = Q·Kᵀ: B = Kᵀ, i.e. PackT of the n key rows.
		ws.k = gemm.PackT(ws.k, base[h+hd*dh:], n, dh, 3*h)
		lds := gemm.Panels(n) * gemm.Panel
		ws.s = grow(ws.s, n*lds)
		gemm.Mul(ws.s, lds, base[hd*dh:], 3*h, ws.k, dh, n, nil, 0, n, 0, gemm.Panels(n))
		vmath.SoftmaxRows(ws.s, lds, n, n, scale)
		// O = P·V.
		ws.v = gemm.PackN(ws.v, base[2*h+hd*dh:], n, dh, 3*h)
		gemm.Mul(cx[offs[s]*h+hd*dh:], h, ws.s, lds, ws.v, n, dh, nil, 0, n, 0, gemm.Panels(dh))
	})

	// Output projection, residual, LayerNorm.
	m.linearRows(tmp, cx, h, l.out, h, h, l.outB, total, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			row, res := x[r*h:(r+1)*h], tmp[r*h:(r+1)*h]
			for j := range row {
				row[j] += res[j]
			}
			layerNorm(row, l.ln1W, l.ln1B, m.eps)
		}
	})

	// Feed-forward: GELU(x·W1 + b1)·W2 + b2, residual, LayerNorm.
	m.linear(ffn, x, h, l.ffn1, h, inter, l.ffn1B, total, func(r0, r1, c0, c1 int) {
		for r := r0; r < r1; r++ {
			vmath.GELU(ffn[r*inter+c0 : r*inter+c1])
		}
	})
	m.linearRows(tmp, ffn, inter, l.ffn2, inter, h, l.ffn2B, total, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			row, res := x[r*h:(r+1)*h], tmp[r*h:(r+1)*h]
			for j := range row {
				row[j] += res[j]
			}
			layerNorm(row, l.ln2W, l.ln2B, m.eps)
		}
	})
}

// linear computes C[rows, n] = A·B + bias in parallel tiles and calls epi,
// when not nil, on each finished tile (rows [r0, r1), columns [c0, c1)).
func (m *Model) linear(c, a []float32, lda int, b []float32, k, n int, bias []float32, rows int, epi func(r0, r1, c0, c1 int)) {
	np := gemm.Panels(n)
	ng := (np + panelGroup - 1) / panelGroup
	nr := (rows + rowBlock - 1) / rowBlock
	m.pool.run(nr*ng, func(_, t int) {
		r0 := (t / ng) * rowBlock
		r1 := min(rows, r0+rowBlock)
		p0 := (t % ng) * panelGroup
		p1 := min(np, p0+panelGroup)
		gemm.Mul(c, n, a, lda, b, k, n, bias, r0, r1, p0, p1)
		if epi != nil {
			epi(r0, r1, p0*gemm.Panel, min(n, p1*gemm.Panel))
		}
	})
}

// linearRows is linear with tasks spanning whole rows, so epi can work on
// complete rows (residual plus LayerNorm).
func (m *Model) linearRows(c, a []float32, lda int, b []float32, k, n int, bias []float32, rows int, epi func(r0, r1 int)) {
	const block = rowBlock / 2
	np := gemm.Panels(n)
	m.pool.run((rows+block-1)/block, func(_, t int) {
		r0 := t * block
		r1 := min(rows, r0+block)
		gemm.Mul(c, n, a, lda, b, k, n, bias, r0, r1, 0, np)
		epi(r0, r1)
	})
}

// layerNorm normalises row to zero mean and unit variance, then scales by w
// and shifts by b.
func layerNorm(row, w, b []float32, eps float32) {
	var sum float32
	for _, v := range row {
		sum += v
	}
	mean := sum / float32(len(row))
	var ss float32
	for _, v := range row {
		d := v - mean
		ss += d * d
	}
	inv := float32(1 / math.Sqrt(float64(ss/float32(len(row))+eps)))
	w, b = w[:len(row)], b[:len(row)]
	for j, v := range row {
		row[j] = (v-mean)*inv*w[j] + b[j]
	}
}
