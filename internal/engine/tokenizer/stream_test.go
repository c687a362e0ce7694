package tokenizer

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStreamDecoderHoldsPartialCharacters(t *testing.T) {
	tok, err := New(byteBPEVocab(t, "gpt2"))
	if err != nil {
		t.Fatal(err)
	}
	// One id per byte of "é😀", so characters arrive split across tokens.
	var ids []int32
	for _, b := range []byte("a é😀") {
		ids = append(ids, tok.byteIDs[b])
	}
	d := tok.NewStreamDecoder()
	var got []string
	for _, id := range ids {
		got = append(got, d.Add(id))
	}
	want := []string{"a", " ", "", "é", "", "", "", "😀"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Add(%d) #%d = %q, want %q", ids[i], i, got[i], want[i])
		}
	}
	if s := d.Flush(); s != "" {
		t.Errorf("Flush() = %q, want empty", s)
	}
	// A dangling lead byte becomes U+FFFD at Flush.
	d.Add(tok.byteIDs[0xE2])
	if s := d.Flush(); s != "\uFFFD" {
		t.Errorf("Flush() after lone lead byte = %q, want U+FFFD", s)
	}
}

func TestStreamDecoderStripsSentencePiecePrefix(t *testing.T) {
	tok, err := New(spmVocab(t))
	if err != nil {
		t.Fatal(err)
	}
	ids := tok.Encode("Hello world", false)[1:]
	d := tok.NewStreamDecoder()
	var s string
	for _, id := range ids {
		s += d.Add(id)
	}
	s += d.Flush()
	if s != "Hello world" {
		t.Errorf("streamed %v = %q, want %q", ids, s, "Hello world")
	}
}

func TestSpecialTokens(t *testing.T) {
	tok, err := New(byteBPEVocab(t, "qwen2"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		id   int32
		want bool
	}{
		{"<|endoftext|>", 0, true},
		{"<|im_start|>", 1, false},
		{"<|im_end|>", 2, true},
		{"normal", 100, false},
		{"out of range", 1 << 20, false},
		{"negative", -1, false},
	}
	for _, tt := range tests {
		if got := tok.IsEndOfGeneration(tt.id); got != tt.want {
			t.Errorf("IsEndOfGeneration(%d) [%s] = %v, want %v", tt.id, tt.name, got, tt.want)
		}
	}
	if id, ok := tok.TokenID("<|im_start|>"); !ok || id != 1 {
		t.Errorf("TokenID(<|im_start|>) = %d, %v, want 1, true", id, ok)
	}
	if got := tok.Count("<|im_start|>user\nhi<|im_end|>"); got != len(tok.Encode("<|im_start|>user\nhi<|im_end|>", true)) {
		t.Errorf("Count disagrees with Encode: %d", got)
	}
	if tok.VocabSize() != 1200 || tok.BOS() != -1 || tok.EOS() != 2 {
		t.Errorf("VocabSize, BOS, EOS = %d, %d, %d", tok.VocabSize(), tok.BOS(), tok.EOS())
	}
}

func TestNewRejectsBadVocab(t *testing.T) {
	tests := []struct {
		name string
		v    Vocab
	}{
		{"empty", Vocab{Model: "gpt2"}},
		{"unknown model", Vocab{Model: "wordpiece", Tokens: []string{"a"}}},
		{"types length", Vocab{Model: "gpt2", Tokens: []string{"a"}, Types: []int32{1, 1}}},
		{"scores length", Vocab{Model: "llama", Tokens: []string{"a"}, Scores: []float32{1, 2}}},
		{"merge without space", Vocab{Model: "gpt2", Tokens: []string{"a"}, Merges: []string{"ab"}}},
	}
	for _, tt := range tests {
		if _, err := New(tt.v); err == nil {
			t.Errorf("New(%s) succeeded, want error", tt.name)
		}
	}
}

func TestBadIDsAreClamped(t *testing.T) {
	tok, err := New(Vocab{Model: "gpt2", Tokens: []string{"a", "b"}, BOS: 7, EOS: -5, EOT: 1, EOM: 99, UNK: -1, PAD: -1, AddBOS: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("ab", true); len(got) != 2 {
		t.Errorf("Encode(ab) = %v, want 2 ids and no BOS", got)
	}
	if tok.BOS() != -1 || tok.EOS() != -1 || !tok.IsEndOfGeneration(1) {
		t.Errorf("BOS, EOS, EOG(1) = %d, %d, %v", tok.BOS(), tok.EOS(), tok.IsEndOfGeneration(1))
	}
}

func TestConcurrentEncode(t *testing.T) {
	tok, err := New(byteBPEVocab(t, "smollm"))
	if err != nil {
		t.Fatal(err)
	}
	g := loadGolden(t)
	want := g.ByteBPE["smollm"].Special
	done := make(chan struct{})
	for w := 0; w < 4; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i, s := range g.Strings {
				if got := tok.Encode(s, true); !cmp.Equal(got, want[i], cmpIDs) {
					t.Errorf("concurrent Encode(%q) = %v, want %v", s, got, want[i])
				}
			}
		}()
	}
	for w := 0; w < 4; w++ {
		<-done
	}
}
