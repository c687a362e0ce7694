package gguf

import (
	"fmt"
	"math"
	"testing"

	"github.com/outcrop/outcrop/internal/engine/tensor"
	"github.com/outcrop/outcrop/internal/engine/weightstest"
)

// modelPath returns the path of a default model file, or skips the test.
func modelPath(t *testing.T, name string) string { return weightstest.Path(t, name) }

func TestSmolLM2(t *testing.T) {
	f, err := Open(modelPath(t, "SmolLM2-135M-Instruct.Q4_1.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if arch, _ := f.String("general.architecture"); arch != "llama" {
		t.Errorf("general.architecture = %q, want llama", arch)
	}
	for key, want := range map[string]uint64{
		"llama.block_count": 30, "llama.embedding_length": 576, "llama.feed_forward_length": 1536,
		"llama.attention.head_count": 9, "llama.attention.head_count_kv": 3, "llama.vocab_size": 49152,
	} {
		if got, ok := f.Uint(key); !ok || got != want {
			t.Errorf("%s = %d, %v; want %d", key, got, ok, want)
		}
	}
	if base, ok := f.Float("llama.rope.freq_base"); !ok || base != 100000 {
		t.Errorf("rope.freq_base = %v, %v", base, ok)
	}
	toks, ok := f.Strings("tokenizer.ggml.tokens")
	if !ok || len(toks) != 49152 || toks[1] != "<|im_start|>" {
		t.Errorf("tokens: %d entries, ok=%v", len(toks), ok)
	}
	if types, ok := f.Int32s("tokenizer.ggml.token_type"); !ok || len(types) != 49152 {
		t.Errorf("token_type: %d entries, ok=%v", len(types), ok)
	}
	if tmpl, ok := f.String("tokenizer.chat_template"); !ok || len(tmpl) == 0 {
		t.Error("no chat template")
	}
	for _, kv := range f.KV {
		if kv.Value.Type == TypeArray {
			continue
		}
		s := fmt.Sprint(kv.Value.V)
		if len(s) > 60 {
			s = s[:60] + "…"
		}
		t.Logf("%s (%v) = %s", kv.Key, kv.Value.Type, s)
	}

	counts := map[tensor.Type]int{}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		counts[ti.Type]++
		if _, err := ti.Matrix(); err != nil {
			t.Errorf("tensor %s: %v", ti.Name, err)
		}
	}
	t.Logf("%d tensors by type: %v", len(f.Tensors), counts)
	if counts[tensor.Q4_1] != 210 || counts[tensor.Q8_0] != 1 || counts[tensor.F32] != 61 {
		t.Errorf("tensor types %v, want 210 Q4_1, 1 Q8_0, 61 F32", counts)
	}

	// The real weights through the kernels agree with the reference.
	p := tensor.NewPool(2)
	defer p.Close()
	for _, name := range []string{"blk.0.ffn_down.weight", "blk.0.attn_q.weight", "token_embd.weight"} {
		ti, ok := f.Tensor(name)
		if !ok {
			t.Fatalf("no tensor %s", name)
		}
		m, err := ti.Matrix()
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, m.Cols)
		for i := range x {
			x[i] = float32(math.Sin(float64(i)))
		}
		got := make([]float32, m.Rows)
		p.MatVec(got, m, x)
		for _, r := range []int{0, 1, m.Rows / 2, m.Rows - 1} {
			want, err := tensor.ReferenceDot(m.Type, m.RowData(r), x)
			if err != nil {
				t.Fatal(err)
			}
			if d := math.Abs(float64(got[r]) - want); d > 0.02*math.Abs(want)+0.05 {
				t.Errorf("%s row %d: MatVec %v, reference %v", name, r, got[r], want)
			}
		}
	}
}
