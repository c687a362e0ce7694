package bm25

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStem(t *testing.T) {
	// Examples from Porter's paper; internal/store/sqlite checks every word
	// of the documentation against FTS5 itself.
	for _, tc := range []struct{ in, want string }{
		{"caresses", "caress"}, {"ponies", "poni"}, {"ties", "ti"}, {"caress", "caress"}, {"cats", "cat"},
		{"feed", "feed"}, {"agreed", "agre"}, {"plastered", "plaster"}, {"bled", "bled"}, {"motoring", "motor"},
		{"sing", "sing"}, {"conflated", "conflat"}, {"troubled", "troubl"}, {"sized", "size"}, {"hopping", "hop"},
		{"tanned", "tan"}, {"falling", "fall"}, {"hissing", "hiss"}, {"fizzed", "fizz"}, {"failing", "fail"},
		{"filing", "file"}, {"happy", "happi"}, {"sky", "sky"}, {"relational", "relat"}, {"conditional", "condit"},
		{"rational", "ration"}, {"digitizer", "digit"}, {"vietnamization", "vietnam"}, {"predication", "predic"},
		{"operator", "oper"}, {"feudalism", "feudal"}, {"decisiveness", "decis"}, {"hopefulness", "hope"},
		{"callousness", "callous"}, {"formaliti", "formal"}, {"sensitiviti", "sensit"}, {"sensibiliti", "sensibl"},
		{"triplicate", "triplic"}, {"formative", "form"}, {"formalize", "formal"}, {"electrical", "electr"},
		{"hopeful", "hope"}, {"goodness", "good"}, {"revival", "reviv"}, {"allowance", "allow"},
		{"inference", "infer"}, {"airliner", "airlin"}, {"adjustable", "adjust"}, {"defensible", "defens"},
		{"irritant", "irrit"}, {"replacement", "replac"}, {"adjustment", "adjust"}, {"dependent", "depend"},
		{"adoption", "adopt"}, {"communism", "commun"}, {"activate", "activ"}, {"effective", "effect"},
		{"bowdlerize", "bowdler"}, {"probate", "probat"}, {"rate", "rate"}, {"cease", "ceas"},
		{"controll", "control"}, {"roll", "roll"}, {"generalizations", "gener"}, {"oscillators", "oscil"},
		{"go", "go"}, {"x", "x"}, {"", ""},
	} {
		if got := string(stem([]byte(tc.in))); got != tc.want {
			t.Errorf("stem(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTerms(t *testing.T) {
	got := Terms("The QUICK-brown fox's résumé, naïvely: 42 ÉCOLES")
	want := []string{"the", "quick", "brown", "fox", "s", "resum", "naiv", "42", "ecol"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Terms mismatch (-want +got):\n%s", diff)
	}
}

// randomText returns n words: some from a small common vocabulary, the
// rest from a larger one, with inflections to stem.
func randomText(rng *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		if rng.IntN(2) == 0 {
			b.WriteString([]string{"the", "is", "of", "and", "a", "how"}[rng.IntN(6)])
		} else {
			fmt.Fprintf(&b, "w%d%s", rng.IntN(300), []string{"", "s", "ing", "ed"}[rng.IntN(4)])
		}
	}
	return b.String()
}

// TestAddRemove checks that an index after adds, removes and re-adds
// searches exactly as one built from the rows it ends up with.
func TestAddRemove(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	texts := map[int32]string{}
	x := New()
	for i := range 500 {
		r := int32(rng.IntN(300))
		if old, ok := texts[r]; ok && i%3 != 0 {
			x.Remove(r, old)
			delete(texts, r)
			continue
		}
		if old, ok := texts[r]; ok {
			x.Remove(r, old)
		}
		texts[r] = randomText(rng, rng.IntN(40))
		x.Add(r, texts[r])
	}
	x.Remove(1000, "not indexed")
	for r := range int32(300) {
		if _, ok := texts[r]; !ok {
			x.Remove(r, "not indexed")
			break
		}
	}
	fresh := Build(300, func(r int32) string { return texts[r] })
	// Build indexes every row, New+Add only those in texts.
	for r := range int32(300) {
		if _, ok := texts[r]; !ok {
			fresh.Remove(r, "")
		}
	}
	if x.Len() != len(texts) || fresh.Len() != len(texts) {
		t.Fatalf("Len() = %d and %d, want %d", x.Len(), fresh.Len(), len(texts))
	}
	if x.Vocabulary() != fresh.Vocabulary() {
		t.Errorf("Vocabulary() = %d, built afresh %d", x.Vocabulary(), fresh.Vocabulary())
	}
	for i := range 50 {
		q := randomText(rng, 1+i%5)
		if diff := cmp.Diff(fresh.Search(q, 20, nil), x.Search(q, 20, nil)); diff != "" {
			t.Errorf("Search(%q) after updates (-fresh +updated):\n%s", q, diff)
		}
	}
}

func TestSearch(t *testing.T) {
	x := Build(4, func(r int32) string {
		return []string{"apples and pears", "apples apples", "pears", "apples and pears"}[r]
	})
	got := x.Search("APPLE pear", 10, nil)
	// Rows 0 and 3 tie, so the lower row comes first.
	if len(got) != 4 || got[0].Row != 0 || got[1].Row != 3 || got[0].Score != got[1].Score {
		t.Errorf("Search = %v, want rows 0 and 3 tied first", got)
	}
	accept := []bool{false, true, true, false}
	got = x.Search("apple pear", 10, accept)
	if len(got) != 2 || got[0].Row+got[1].Row != 3 || got[0].Row == got[1].Row {
		t.Errorf("Search with accept = %v, want rows 1 and 2", got)
	}
	if got := x.Search("none of these", 10, nil); len(got) != 0 {
		t.Errorf("Search of unknown words = %v, want none", got)
	}
	if got := x.Search("apples", 1, nil); len(got) != 1 || got[0].Row != 1 {
		t.Errorf("Search(k=1) = %v, want row 1 (apples twice, shortest)", got)
	}
}

func BenchmarkBuild(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	texts := make([]string, 10000)
	for i := range texts {
		texts[i] = randomText(rng, 60)
	}
	for b.Loop() {
		Build(len(texts), func(r int32) string { return texts[r] })
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*60*len(texts)), "ns/token")
}

func BenchmarkSearch(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := Build(100000, func(int32) string { return randomText(rng, 60) })
	for b.Loop() {
		x.Search("how is the w17ing of w230s", 50, nil)
	}
}

// BenchmarkUpdate replaces one row of 60 words in an index of 100,000,
// as a document's refresh does for each of its chunks: the cost is in
// scanning the lists of its common words.
func BenchmarkUpdate(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	texts := make([]string, 100000)
	for i := range texts {
		texts[i] = randomText(rng, 60)
	}
	x := Build(len(texts), func(r int32) string { return texts[r] })
	for b.Loop() {
		r := int32(rng.IntN(len(texts)))
		x.Remove(r, texts[r])
		x.Add(r, texts[r])
	}
}
