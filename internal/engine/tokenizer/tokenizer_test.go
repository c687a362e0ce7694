package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// golden mirrors testdata/golden.json, written by testdata/gen_golden.py.
type golden struct {
	Strings []string              `json:"strings"`
	Pretok  map[string][][]string `json:"pretok"`
	ByteBPE map[string]idGolden   `json:"bytebpe"`
	SPM     idGolden              `json:"spm"`
	SmolLM2 *idGolden             `json:"smollm2"`
}

// idGolden holds the reference ids of every golden string, with special
// tokens parsed and not, and the reference decoding of the former.
type idGolden struct {
	Special [][]int32 `json:"special"`
	Plain   [][]int32 `json:"plain"`
	Decoded []string  `json:"decoded"`
}

func readJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func loadGolden(t testing.TB) *golden {
	var g golden
	readJSON(t, "golden.json", &g)
	return &g
}

// byteBPEVocab is the small vocabulary gen_golden.py trained, with the
// three ChatML-style control tokens it reserved at ids 0-2.
func byteBPEVocab(t testing.TB, pre string) Vocab {
	var raw struct {
		Tokens []string `json:"tokens"`
		Merges []string `json:"merges"`
	}
	readJSON(t, "bytebpe_vocab.json", &raw)
	types := make([]int32, len(raw.Tokens))
	for i := range types {
		types[i] = TypeNormal
		if i < 3 {
			types[i] = TypeControl
		}
	}
	return Vocab{Model: "gpt2", Pre: pre, Tokens: raw.Tokens, Merges: raw.Merges, Types: types,
		BOS: -1, EOS: 2, EOT: -1, EOM: -1, UNK: -1, PAD: -1}
}

func spmVocab(t testing.TB) Vocab {
	var raw struct {
		Tokens []string  `json:"tokens"`
		Scores []float32 `json:"scores"`
		Types  []int32   `json:"types"`
	}
	readJSON(t, "spm_vocab.json", &raw)
	return Vocab{Model: "llama", Pre: "default", Tokens: raw.Tokens, Scores: raw.Scores, Types: raw.Types,
		BOS: 1, EOS: 2, EOT: -1, EOM: -1, UNK: 0, PAD: -1, AddBOS: true, AddSpacePrefix: true}
}

func TestPreTokenizers(t *testing.T) {
	g := loadGolden(t)
	for pre, want := range g.Pretok {
		split, _, _ := splitterFor(pre)
		for i, s := range g.Strings {
			var got []string
			start := 0
			for _, end := range split(s, nil) {
				got = append(got, s[start:end])
				start = end
			}
			if diff := cmp.Diff(want[i], got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s split(%q) mismatch (-want +got):\n%s", pre, s, diff)
			}
		}
	}
}

// checkIDs compares Encode and Decode with reference ids for every string.
func checkIDs(t *testing.T, tok *Tokenizer, g *golden, want idGolden) {
	t.Helper()
	for i, s := range g.Strings {
		if got := tok.Encode(s, true); !cmp.Equal(got, want.Special[i], cmpIDs) {
			t.Errorf("Encode(%q, true) = %v, want %v", s, got, want.Special[i])
		}
		if got := tok.Encode(s, false); !cmp.Equal(got, want.Plain[i], cmpIDs) {
			t.Errorf("Encode(%q, false) = %v, want %v", s, got, want.Plain[i])
		}
		if got := tok.Decode(want.Special[i]); got != want.Decoded[i] {
			t.Errorf("Decode(%v) = %q, want %q", want.Special[i], got, want.Decoded[i])
		}
	}
}

// cmpIDs treats nil and empty id slices as equal.
var cmpIDs = cmp.Comparer(func(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
})

func TestByteLevelGolden(t *testing.T) {
	g := loadGolden(t)
	for pre, want := range g.ByteBPE {
		t.Run(pre, func(t *testing.T) {
			tok, err := New(byteBPEVocab(t, pre))
			if err != nil {
				t.Fatal(err)
			}
			checkIDs(t, tok, g, want)
		})
	}
}

func TestSentencePieceGolden(t *testing.T) {
	g := loadGolden(t)
	tok, err := New(spmVocab(t))
	if err != nil {
		t.Fatal(err)
	}
	checkIDs(t, tok, g, g.SPM)
}
