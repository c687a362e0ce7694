package tokenizer

import (
	"bytes"
	"testing"

	"github.com/outcrop/outcrop/internal/engine/gguf"
	"github.com/outcrop/outcrop/internal/engine/weightstest"
)

// modelPath returns the path of a default model file, or skips the test.
func modelPath(t testing.TB, name string) string { return weightstest.Path(t, name) }

func openSmolLM2(t testing.TB) *Tokenizer {
	f, err := gguf.Open(modelPath(t, "SmolLM2-135M-Instruct.Q4_1.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestSmolLM2Golden(t *testing.T) {
	tok := openSmolLM2(t)
	g := loadGolden(t)
	if g.SmolLM2 == nil {
		t.Fatal("golden.json has no smollm2 ids; rerun testdata/gen_golden.py with the model present")
	}
	checkIDs(t, tok, g, *g.SmolLM2)
	if tok.VocabSize() != 49152 || tok.BOS() != 1 || tok.EOS() != 2 {
		t.Errorf("VocabSize, BOS, EOS = %d, %d, %d", tok.VocabSize(), tok.BOS(), tok.EOS())
	}
	for _, s := range []string{"<|im_end|>", "<|endoftext|>"} {
		if id, _ := tok.TokenID(s); !tok.IsEndOfGeneration(id) {
			t.Errorf("IsEndOfGeneration(%s) = false", s)
		}
	}
}

// TestFromGGUF writes the synthetic vocabularies into GGUF files and
// checks FromGGUF reproduces the reference ids.
func TestFromGGUF(t *testing.T) {
	g := loadGolden(t)
	str := func(k, v string) gguf.KV { return gguf.KV{Key: k, Value: gguf.Value{Type: gguf.TypeString, V: v}} }
	u32 := func(k string, v uint32) gguf.KV {
		return gguf.KV{Key: k, Value: gguf.Value{Type: gguf.TypeUint32, V: v}}
	}
	arr := func(k string, v any) gguf.KV { return gguf.KV{Key: k, Value: gguf.Value{Type: gguf.TypeArray, V: v}} }
	boolean := func(k string, v bool) gguf.KV { return gguf.KV{Key: k, Value: gguf.Value{Type: gguf.TypeBool, V: v}} }

	bl := byteBPEVocab(t, "qwen2")
	sp := spmVocab(t)
	tests := []struct {
		name string
		kv   []gguf.KV
		want idGolden
	}{
		{"qwen2", []gguf.KV{
			str("tokenizer.ggml.model", "gpt2"), str("tokenizer.ggml.pre", "qwen2"),
			arr("tokenizer.ggml.tokens", bl.Tokens), arr("tokenizer.ggml.merges", bl.Merges),
			arr("tokenizer.ggml.token_type", bl.Types), u32("tokenizer.ggml.eos_token_id", 2),
			boolean("tokenizer.ggml.add_bos_token", false),
		}, g.ByteBPE["qwen2"]},
		{"spm", []gguf.KV{
			str("tokenizer.ggml.model", "llama"),
			arr("tokenizer.ggml.tokens", sp.Tokens), arr("tokenizer.ggml.scores", sp.Scores),
			arr("tokenizer.ggml.token_type", sp.Types), u32("tokenizer.ggml.bos_token_id", 1),
			u32("tokenizer.ggml.eos_token_id", 2), u32("tokenizer.ggml.unknown_token_id", 0),
		}, g.SPM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := gguf.Write(&buf, tt.kv, nil); err != nil {
				t.Fatal(err)
			}
			f, err := gguf.Parse(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			tok, err := FromGGUF(f)
			if err != nil {
				t.Fatal(err)
			}
			checkIDs(t, tok, g, tt.want)
		})
	}
}

func BenchmarkEncodeSmolLM2(b *testing.B) {
	benchEncode(b, openSmolLM2(b))
}
