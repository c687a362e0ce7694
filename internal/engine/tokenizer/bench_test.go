package tokenizer

import (
	"strings"
	"testing"
)

// benchText is mixed prose, code and numbers, about 20 KB.
var benchText = strings.Repeat("The quick brown fox jumps over the lazy dog; it's 1,234 metres away.\n"+
	"    def foo(self, a: int) -> None:\n        return {\"k\": [1, 2]}\n"+
	"Unicode: café, 日本語, emoji 😀.\n\n", 100)

func benchEncode(b *testing.B, tok *Tokenizer) {
	b.SetBytes(int64(len(benchText)))
	b.ReportAllocs()
	for b.Loop() {
		tok.Encode(benchText, true)
	}
}

func BenchmarkEncodeByteLevel(b *testing.B) {
	tok, err := New(byteBPEVocab(b, "smollm"))
	if err != nil {
		b.Fatal(err)
	}
	benchEncode(b, tok)
}

func BenchmarkEncodeSentencePiece(b *testing.B) {
	tok, err := New(spmVocab(b))
	if err != nil {
		b.Fatal(err)
	}
	benchEncode(b, tok)
}

func BenchmarkDecode(b *testing.B) {
	tok, err := New(byteBPEVocab(b, "smollm"))
	if err != nil {
		b.Fatal(err)
	}
	ids := tok.Encode(benchText, true)
	b.ReportAllocs()
	for b.Loop() {
		tok.Decode(ids)
	}
}
