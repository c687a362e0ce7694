package wordpiece

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/outcrop/outcrop/internal/engine/weightstest"
)

// modelDir returns the all-MiniLM-L6-v2 directory, or skips the test.
func modelDir(t testing.TB) string {
	t.Helper()
	return filepath.Dir(weightstest.Path(t, "all-MiniLM-L6-v2/vocab.txt"))
}

type goldenCase struct {
	Text string  `json:"text"`
	IDs  []int32 `json:"ids"`
}

func loadGolden(t testing.TB) []goldenCase {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct{ Cases []goldenCase }
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g.Cases
}

func TestGolden(t *testing.T) {
	tok, err := Load(filepath.Join(modelDir(t), "vocab.txt"), true)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, tc := range loadGolden(t) {
		name := tc.Text
		if len(name) > 30 {
			name = name[:30]
		}
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.IDs, tok.Encode(tc.Text, 0)); diff != "" {
				t.Errorf("Encode(%q) mismatch (-want +got):\n%s", tc.Text, diff)
			}
			if got, want := tok.Count(tc.Text), len(tc.IDs)-2; got != want {
				t.Errorf("Count(%q) = %d, want %d", tc.Text, got, want)
			}
			for _, maxLen := range []int{1, 2, 3, 5, 8, 256} {
				want := tc.IDs
				if limit := max(maxLen, 2); len(want) > limit {
					want = append(append([]int32{}, tc.IDs[:limit-1]...), tc.IDs[len(tc.IDs)-1])
				}
				if diff := cmp.Diff(want, tok.Encode(tc.Text, maxLen)); diff != "" {
					t.Errorf("Encode(%q, %d) mismatch (-want +got):\n%s", tc.Text, maxLen, diff)
				}
			}
		})
	}
}

func testVocab() []string {
	return []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "hello", "!", "a", "##b", "cafe", "中", "##", "#"}
}

func TestEncodeSynthetic(t *testing.T) {
	tok, err := New(testVocab(), true)
	if err != nil {
		t.Fatal(err)
	}
	cased, err := New(testVocab(), false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		tok  *Tokenizer
		text string
		want []int32
	}{
		{"empty", tok, "", []int32{2, 3}},
		{"wordpiece", tok, "unaffable", []int32{2, 5, 6, 7, 3}},
		{"punct split", tok, "Hello!unaffable", []int32{2, 8, 9, 5, 6, 7, 3}},
		{"no match is unk", tok, "unaffablex", []int32{2, 1, 3}},
		{"cased keeps case", cased, "Hello hello", []int32{2, 1, 8, 3}},
		{"accents stripped", tok, "CAFÉ", []int32{2, 12, 3}},
		{"cased keeps accents", cased, "cafe\u0301", []int32{2, 1, 3}},
		{"cjk split", tok, "a中a", []int32{2, 10, 13, 10, 3}},
		{"special verbatim", tok, "a[SEP]a [sep]", []int32{2, 10, 3, 10, 1, 1, 1, 3}},
		{"continuation", tok, "abbb", []int32{2, 10, 11, 11, 11, 3}},
		{"hash punct", tok, "##", []int32{2, 15, 15, 3}},
		{"long word", tok, strings.Repeat("a", 101), []int32{2, 1, 3}},
		{"invalid utf8 dropped", tok, "a\xffb", []int32{2, 10, 11, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.tok.Encode(tc.text, 0)); diff != "" {
				t.Errorf("Encode(%q) mismatch (-want +got):\n%s", tc.text, diff)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New([]string{"[CLS]", "[SEP]"}, true); err == nil {
		t.Errorf("New without [UNK] succeeded")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.txt"), true); err == nil {
		t.Errorf("Load(missing) succeeded")
	}
}

func BenchmarkEncode(b *testing.B) {
	tok, err := Load(filepath.Join(modelDir(b), "vocab.txt"), true)
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("Sentence embeddings map text to dense vectors, naïvely. ", 20)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tok.Encode(text, 256)
	}
}

func FuzzEncode(f *testing.F) {
	tok, err := New(testVocab(), true)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "unaffable", "Hello![CLS]", "中文 café", "\x00\xff##[", strings.Repeat("ab", 60)} {
		f.Add(s, 5)
	}
	f.Fuzz(func(t *testing.T, text string, maxLen int) {
		ids := tok.Encode(text, maxLen)
		if len(ids) < 2 || ids[0] != 2 || ids[len(ids)-1] != 3 {
			t.Fatalf("Encode(%q, %d) = %v, want [CLS] ... [SEP]", text, maxLen, ids)
		}
		if maxLen > 0 && len(ids) > max(maxLen, 2) {
			t.Fatalf("Encode(%q, %d) has %d ids", text, maxLen, len(ids))
		}
		for _, id := range ids {
			if id < 0 || int(id) >= len(testVocab()) {
				t.Fatalf("Encode(%q) id %d out of range", text, id)
			}
		}
		full := tok.Encode(text, 0)
		if tok.Count(text) != len(full)-2 {
			t.Fatalf("Count(%q) = %d, Encode has %d pieces", text, tok.Count(text), len(full)-2)
		}
		if diff := cmp.Diff(full[:len(ids)-1], ids[:len(ids)-1]); diff != "" {
			t.Fatalf("Encode(%q, %d) is not a prefix of the full encoding:\n%s", text, maxLen, diff)
		}
	})
}
