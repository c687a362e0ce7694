// Package enginetest builds synthetic models for tests of the engine and
// of the packages that use it: small random weights in the real file
// formats, so loaders, schedulers and backends run their real code paths
// without the real weights.
package enginetest

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/outcrop/outcrop/internal/engine/gguf"
	"github.com/outcrop/outcrop/internal/engine/tensor"
)

// byteTokens returns GPT-2's byte-level alphabet (one token per byte) plus
// ChatML's control tokens, so any text tokenizes without merges.
func byteTokens() ([]string, []int32) {
	var toks []string
	var types []int32
	n := 0
	for b := 0; b < 256; b++ {
		r := rune(b)
		if !(b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF) {
			r = rune(256 + n)
			n++
		}
		toks = append(toks, string(r))
		types = append(types, 1)
	}
	toks = append(toks, "<|im_start|>", "<|im_end|>")
	types = append(types, 3, 3)
	return toks, types
}

// TinyLlama writes a tiny random llama model (2 layers, width 32, F32) with
// a byte-level vocabulary and the given chat template ("" for none) into
// dir, and returns its path.
func TinyLlama(t testing.TB, dir, name string, seed uint64, template string) string {
	t.Helper()
	const dim, ff, heads, layers = 32, 64, 4, 2
	toks, types := byteTokens()
	vocab := len(toks)
	r := rand.New(rand.NewPCG(seed, 1))
	var ts []gguf.WriteTensor
	add := func(name string, rows, cols int, scale, off float64) {
		n := rows * max(cols, 1)
		f := make([]float32, n)
		for i := range f {
			f[i] = float32(off + scale*(r.Float64()*2-1))
		}
		data, err := tensor.Quantize(tensor.F32, f)
		if err != nil {
			t.Fatal(err)
		}
		dims := []uint64{uint64(rows)}
		if cols > 0 {
			dims = []uint64{uint64(cols), uint64(rows)}
		}
		ts = append(ts, gguf.WriteTensor{Name: name, Dims: dims, Type: tensor.F32, Data: data})
	}
	add("token_embd.weight", vocab, dim, 1, 0)
	add("output_norm.weight", dim, 0, 0.2, 1)
	for l := range layers {
		p := "blk." + string(rune('0'+l)) + "."
		add(p+"attn_norm.weight", dim, 0, 0.2, 1)
		add(p+"attn_q.weight", dim, dim, 0.3, 0)
		add(p+"attn_k.weight", dim, dim, 0.3, 0)
		add(p+"attn_v.weight", dim, dim, 0.2, 0)
		add(p+"attn_output.weight", dim, dim, 0.2, 0)
		add(p+"ffn_norm.weight", dim, 0, 0.2, 1)
		add(p+"ffn_gate.weight", ff, dim, 0.3, 0)
		add(p+"ffn_up.weight", ff, dim, 0.3, 0)
		add(p+"ffn_down.weight", dim, ff, 0.2, 0)
	}
	u32 := func(v int) gguf.Value { return gguf.Value{Type: gguf.TypeUint32, V: uint32(v)} }
	kv := []gguf.KV{
		{Key: "general.architecture", Value: gguf.Value{Type: gguf.TypeString, V: "llama"}},
		{Key: "llama.block_count", Value: u32(layers)},
		{Key: "llama.context_length", Value: u32(512)},
		{Key: "llama.embedding_length", Value: u32(dim)},
		{Key: "llama.feed_forward_length", Value: u32(ff)},
		{Key: "llama.attention.head_count", Value: u32(heads)},
		{Key: "llama.attention.head_count_kv", Value: u32(heads)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: gguf.Value{Type: gguf.TypeFloat32, V: float32(1e-5)}},
		{Key: "tokenizer.ggml.model", Value: gguf.Value{Type: gguf.TypeString, V: "gpt2"}},
		{Key: "tokenizer.ggml.pre", Value: gguf.Value{Type: gguf.TypeString, V: "smollm"}},
		{Key: "tokenizer.ggml.tokens", Value: gguf.Value{Type: gguf.TypeArray, V: toks}},
		{Key: "tokenizer.ggml.token_type", Value: gguf.Value{Type: gguf.TypeArray, V: types}},
		{Key: "tokenizer.ggml.merges", Value: gguf.Value{Type: gguf.TypeArray, V: []string{}}},
		{Key: "tokenizer.ggml.eos_token_id", Value: u32(vocab - 1)},
	}
	if template != "" {
		kv = append(kv, gguf.KV{Key: "tokenizer.chat_template", Value: gguf.Value{Type: gguf.TypeString, V: template}})
	}
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := gguf.Write(f, kv, ts); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
