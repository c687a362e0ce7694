package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func fuzzSeeds(f *testing.F) {
	g := loadGolden(f)
	for _, s := range g.Strings {
		f.Add(s)
	}
	f.Add(strings.Repeat(" ", 300) + "x")
	f.Add("\xff\xfe invalid")
}

// FuzzByteLevelRoundTrip checks that every splitter covers its input and
// that byte-level BPE decodes back to exactly the input.
func FuzzByteLevelRoundTrip(f *testing.F) {
	fuzzSeeds(f)
	var toks []*Tokenizer
	for _, pre := range []string{"gpt2", "smollm", "qwen2", "llama-bpe"} {
		tok, err := New(byteBPEVocab(f, pre))
		if err != nil {
			f.Fatal(err)
		}
		toks = append(toks, tok)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range toks {
			prev := 0
			for _, end := range tok.split(s, nil) {
				if end <= prev || end > len(s) {
					t.Fatalf("%s split(%q): bad end %d after %d", tok.v.Pre, s, end, prev)
				}
				prev = end
			}
			if prev != len(s) {
				t.Fatalf("%s split(%q) covers %d of %d bytes", tok.v.Pre, s, prev, len(s))
			}
			ids := tok.Encode(s, false)
			want := s
			if tok.nfc {
				want = norm.NFC.String(s)
			}
			if got := tok.Decode(ids); got != want {
				t.Fatalf("%s Decode(Encode(%q)) = %q", tok.v.Pre, s, got)
			}
			checkStream(t, tok, ids)
		}
	})
}

// FuzzSentencePieceRoundTrip checks SentencePiece BPE with byte fallback
// decodes back to valid UTF-8 input.
func FuzzSentencePieceRoundTrip(f *testing.F) {
	fuzzSeeds(f)
	tok, err := New(spmVocab(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids := tok.Encode(s, false)
		if len(ids) == 0 || ids[0] != tok.BOS() {
			t.Fatalf("Encode(%q) = %v, want BOS first", s, ids)
		}
		if utf8.ValidString(s) {
			if got := tok.Decode(ids[1:]); got != s {
				t.Fatalf("Decode(Encode(%q)) = %q", s, got)
			}
		}
		checkStream(t, tok, ids[1:])
	})
}

// checkStream checks that streaming ids one at a time yields Decode(ids)
// whenever that is valid UTF-8, and never emits invalid UTF-8.
func checkStream(t *testing.T, tok *Tokenizer, ids []int32) {
	t.Helper()
	d := tok.NewStreamDecoder()
	var b strings.Builder
	for _, id := range ids {
		part := d.Add(id)
		if !utf8.ValidString(part) {
			t.Fatalf("Add(%d) = %q, invalid UTF-8", id, part)
		}
		b.WriteString(part)
	}
	b.WriteString(d.Flush())
	want := tok.Decode(ids)
	if utf8.ValidString(want) && b.String() != want {
		t.Fatalf("stream of %v = %q, want %q", ids, b.String(), want)
	}
	if !utf8.ValidString(b.String()) {
		t.Fatalf("stream of %v = %q, invalid UTF-8", ids, b.String())
	}
}
