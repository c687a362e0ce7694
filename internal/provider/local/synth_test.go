package local

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/engine/gguf"
	"github.com/outcrop/outcrop/internal/engine/safetensors"
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

// writeSynthGGUF writes a tiny random llama model with a byte-level
// vocabulary and the given chat template, and returns its path.
func writeSynthGGUF(t testing.TB, dir, name string, seed uint64, template string) string {
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
		{Key: "tokenizer.chat_template", Value: gguf.Value{Type: gguf.TypeString, V: template}},
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

// writeTinyBERT writes a small random sentence-transformers model (mean
// pooling, Normalize) into dir.
func writeTinyBERT(t testing.TB, dir string) {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 7))
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "dog", "##s", ".", ",", "a", "red"}
	const h, heads, inter, layers, maxPos = 24, 3, 40, 2, 24
	var ts []safetensors.Tensor
	add := func(name string, scale, offset float64, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(offset + scale*(r.Float64()*2-1))
		}
		ts = append(ts, safetensors.F32Tensor(name, shape, v))
	}
	add("embeddings.word_embeddings.weight", 1, 0, len(vocab), h)
	add("embeddings.position_embeddings.weight", 0.5, 0, maxPos, h)
	add("embeddings.token_type_embeddings.weight", 0.5, 0, 2, h)
	add("embeddings.LayerNorm.weight", 0.2, 1, h)
	add("embeddings.LayerNorm.bias", 0.2, 0, h)
	for l := range layers {
		p := fmt.Sprintf("encoder.layer.%d.", l)
		for _, qkv := range []string{"query", "key", "value"} {
			add(p+"attention.self."+qkv+".weight", 0.4, 0, h, h)
			add(p+"attention.self."+qkv+".bias", 0.2, 0, h)
		}
		add(p+"attention.output.dense.weight", 0.3, 0, h, h)
		add(p+"attention.output.dense.bias", 0.2, 0, h)
		add(p+"attention.output.LayerNorm.weight", 0.2, 1, h)
		add(p+"attention.output.LayerNorm.bias", 0.2, 0, h)
		add(p+"intermediate.dense.weight", 0.4, 0, inter, h)
		add(p+"intermediate.dense.bias", 0.2, 0, inter)
		add(p+"output.dense.weight", 0.3, 0, h, inter)
		add(p+"output.dense.bias", 0.2, 0, h)
		add(p+"output.LayerNorm.weight", 0.2, 1, h)
		add(p+"output.LayerNorm.bias", 0.2, 0, h)
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"model.safetensors": buf.String(),
		"vocab.txt":         strings.Join(vocab, "\n") + "\n",
		"config.json": fmt.Sprintf(`{"vocab_size":%d,"hidden_size":%d,"num_hidden_layers":%d,"num_attention_heads":%d,
			"intermediate_size":%d,"hidden_act":"gelu","layer_norm_eps":1e-12,"max_position_embeddings":%d,
			"type_vocab_size":2,"position_embedding_type":"absolute"}`, len(vocab), h, layers, heads, inter, maxPos),
		"tokenizer_config.json":     `{"do_lower_case": true}`,
		"sentence_bert_config.json": `{"max_seq_length": 12}`,
		"1_Pooling/config.json":     `{"pooling_mode_mean_tokens": true}`,
		"modules.json":              `[{"type":"sentence_transformers.models.Transformer"},{"type":"sentence_transformers.models.Pooling"},{"type":"sentence_transformers.models.Normalize"}]`,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
