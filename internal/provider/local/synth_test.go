package local

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/engine/safetensors"
)

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
