package tokenizer

import (
	"fmt"

	"github.com/outcrop/outcrop/internal/engine/gguf"
)

// FromGGUF builds the tokenizer a GGUF file describes under
// tokenizer.ggml.*.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	v, err := VocabFromGGUF(f)
	if err != nil {
		return nil, err
	}
	return New(v)
}

// VocabFromGGUF reads the tokenizer.ggml.* metadata of f.
func VocabFromGGUF(f *gguf.File) (Vocab, error) {
	var v Vocab
	var ok bool
	if v.Model, ok = f.String("tokenizer.ggml.model"); !ok {
		return v, fmt.Errorf("tokenizer: gguf has no tokenizer.ggml.model")
	}
	if v.Tokens, ok = f.Strings("tokenizer.ggml.tokens"); !ok {
		return v, fmt.Errorf("tokenizer: gguf has no tokenizer.ggml.tokens")
	}
	v.Pre, _ = f.String("tokenizer.ggml.pre")
	v.Scores, _ = f.Float32s("tokenizer.ggml.scores")
	v.Types, _ = f.Int32s("tokenizer.ggml.token_type")
	v.Merges, _ = f.Strings("tokenizer.ggml.merges")
	id := func(key string) int32 {
		u, ok := f.Uint("tokenizer.ggml." + key)
		if !ok || u >= uint64(len(v.Tokens)) {
			return -1
		}
		return int32(u)
	}
	v.BOS, v.EOS, v.EOT, v.EOM = id("bos_token_id"), id("eos_token_id"), id("eot_token_id"), id("eom_token_id")
	v.UNK, v.PAD = id("unknown_token_id"), id("padding_token_id")
	// llama.cpp's defaults when the flags are absent: SentencePiece
	// vocabularies add BOS and a space prefix, byte-level ones neither.
	spm := v.Model == "llama"
	v.AddBOS = boolOr(f, "tokenizer.ggml.add_bos_token", spm)
	v.AddEOS = boolOr(f, "tokenizer.ggml.add_eos_token", false)
	v.AddSpacePrefix = boolOr(f, "tokenizer.ggml.add_space_prefix", spm)
	if v.Model == "llama" && v.BOS < 0 && len(v.Tokens) > 2 {
		v.BOS, v.EOS = 1, 2 // llama.cpp's defaults for SentencePiece vocabularies
	}
	return v, nil
}

func boolOr(f *gguf.File, key string, def bool) bool {
	if b, ok := f.Bool(key); ok {
		return b
	}
	return def
}
