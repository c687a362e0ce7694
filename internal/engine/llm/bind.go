package llm

import (
	"fmt"
	"strconv"

	"github.com/outcrop/outcrop/internal/engine/gguf"
	"github.com/outcrop/outcrop/internal/engine/tensor"
)

// required lists the slots every architecture must bind.
var required = [...]Slot{TokenEmbd, OutputNorm, AttnNorm, AttnQ, AttnK, AttnV, AttnOut, FFNNorm, FFNGate, FFNUp, FFNDown}

// shape returns the expected shape of a slot: rows × cols for matrices,
// or n for vectors (rows = n, cols = 0).
func (hp *hparams) shape(s Slot) (rows, cols int) {
	switch s {
	case TokenEmbd, Output:
		return hp.vocab, hp.dim
	case OutputNorm, AttnNorm, FFNNorm:
		return hp.dim, 0
	case RopeFreqs:
		return hp.ropeDim / 2, 0
	case AttnQ:
		return hp.qDim(), hp.dim
	case AttnK, AttnV:
		return hp.kvDim(), hp.dim
	case AttnQBias:
		return hp.qDim(), 0
	case AttnKBias, AttnVBias:
		return hp.kvDim(), 0
	case AttnOut:
		return hp.dim, hp.qDim()
	case FFNGate, FFNUp:
		return hp.ff, hp.dim
	case FFNDown:
		return hp.dim, hp.ff
	}
	return 0, 0
}

// resolved holds the tensors bound to each slot of one scope (global or a
// layer); nil entries are absent optional tensors.
type resolved [numSlots]*gguf.TensorInfo

func resolve(f *gguf.File, bs []Binding, prefix string) (resolved, error) {
	var r resolved
	for _, b := range bs {
		if b.Slot < 0 || b.Slot >= numSlots {
			return r, fmt.Errorf("binding %q: invalid slot %d", b.Name, b.Slot)
		}
		t, ok := f.Tensor(prefix + b.Name)
		if !ok {
			if b.Optional {
				continue
			}
			return r, fmt.Errorf("tensor %q is missing", prefix+b.Name)
		}
		r[b.Slot] = t
	}
	return r, nil
}

func (m *Model) bindTensors(f *gguf.File, hp *hparams) error {
	bound := map[Slot]bool{}
	for _, b := range m.arch.Global {
		bound[b.Slot] = true
	}
	for _, b := range m.arch.Layer {
		bound[b.Slot] = true
	}
	for _, s := range required {
		if !bound[s] {
			return fmt.Errorf("architecture %q binds no tensor for slot %d", m.arch.Name, s)
		}
	}
	g, err := resolve(f, m.arch.Global, "")
	if err != nil {
		return err
	}
	// The vocabulary size comes from the embedding itself.
	if mt, err := g[TokenEmbd].Matrix(); err == nil {
		hp.vocab = mt.Rows
	}
	if m.embd, err = matrix(g[TokenEmbd], TokenEmbd, hp); err != nil {
		return err
	}
	m.output = m.embd
	if g[Output] != nil {
		if m.output, err = matrix(g[Output], Output, hp); err != nil {
			return err
		}
	}
	if m.outNorm, err = vector(g[OutputNorm], OutputNorm, hp); err != nil {
		return err
	}
	if g[RopeFreqs] != nil {
		if m.ropeFactors, err = vector(g[RopeFreqs], RopeFreqs, hp); err != nil {
			return err
		}
		for i, v := range m.ropeFactors {
			if !(v > 0) {
				return fmt.Errorf("rope_freqs.weight[%d] = %g is not positive", i, v)
			}
		}
	}
	m.layers = make([]layer, hp.layers)
	for i := range m.layers {
		r, err := resolve(f, m.arch.Layer, "blk."+strconv.Itoa(i)+".")
		if err != nil {
			return err
		}
		L := &m.layers[i]
		for _, e := range []struct {
			s   Slot
			dst *tensor.Matrix
		}{{AttnQ, &L.q}, {AttnK, &L.k}, {AttnV, &L.v}, {AttnOut, &L.o}, {FFNGate, &L.gate}, {FFNUp, &L.up}, {FFNDown, &L.down}} {
			if *e.dst, err = matrix(r[e.s], e.s, hp); err != nil {
				return err
			}
		}
		for _, e := range []struct {
			s   Slot
			dst *[]float32
		}{{AttnNorm, &L.attnNorm}, {FFNNorm, &L.ffnNorm}, {AttnQBias, &L.bq}, {AttnKBias, &L.bk}, {AttnVBias, &L.bv}} {
			if r[e.s] == nil {
				continue // optional, absent
			}
			if *e.dst, err = vector(r[e.s], e.s, hp); err != nil {
				return err
			}
		}
	}
	return nil
}

// matrix returns the tensor bound to slot s as a matrix of the expected shape.
func matrix(t *gguf.TensorInfo, s Slot, hp *hparams) (tensor.Matrix, error) {
	rows, cols := hp.shape(s)
	mt, err := t.Matrix()
	if err != nil {
		return mt, err
	}
	if len(t.Dims) != 2 || mt.Rows != rows || mt.Cols != cols {
		return mt, fmt.Errorf("tensor %q has shape %v, want [%d %d]", t.Name, t.Dims, cols, rows)
	}
	return mt, nil
}

// vector dequantizes a 1-D tensor to float32.
func vector(t *gguf.TensorInfo, s Slot, hp *hparams) ([]float32, error) {
	n, _ := hp.shape(s)
	if len(t.Dims) != 1 || t.Dims[0] != uint64(n) {
		return nil, fmt.Errorf("tensor %q has shape %v, want [%d]", t.Name, t.Dims, n)
	}
	out := make([]float32, n)
	if err := tensor.Dequantize(t.Type, t.Data, out); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return out, nil
}
