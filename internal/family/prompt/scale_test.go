package prompt

import (
	"runtime"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/provider"
)

// pathological are prompts on which a parser that searches the rest of the
// prompt for each turn, or copies a growing merged turn, takes time
// quadratic in the prompt's length. Each builds a prompt of about n bytes.
var pathological = []struct {
	name   string
	parser Parser
	// scanned is the parser counting its searches in a scan, or nil for
	// one that makes none.
	scanned func(*scan, string) (*provider.Conversation, bool)
	prompt  func(n int) string
}{
	// <｜Assistant｜> never comes: each turn's search for it runs to the end.
	{"DeepSeek users", DeepSeek, deepSeek, func(n int) string { return repeat(dsU+"a", n) }},
	// Every line is a user turn, merged into one.
	{"Titan users", Titan, nil, func(n int) string { return repeat("User: a\n", n) }},
	// No <|eot_id|>: each turn's search for it runs to the end.
	{"Llama3 without eot", Llama3, llama3, func(n int) string {
		return repeat("<|start_header_id|>user<|end_header_id|>a<|start_header_id|>assistant<|end_header_id|>b", n)
	}},
	// No </s> (and no <s>): each answer's search for them runs to the end.
	{"Mistral without eos", Mistral, func(sc *scan, s string) (*provider.Conversation, bool) { return inst(sc, s, false) }, func(n int) string { return repeat("[INST] a [/INST] b ", n) }},
	{"Llama2 without eos", Llama2, func(sc *scan, s string) (*provider.Conversation, bool) { return inst(sc, s, true) }, func(n int) string { return repeat("[INST] a [/INST] b ", n) }},
}

// repeat repeats unit to about n bytes.
func repeat(unit string, n int) string { return strings.Repeat(unit, max(1, n/len(unit))) }

func BenchmarkPathological(b *testing.B) {
	for _, p := range pathological {
		s := p.prompt(1 << 20)
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := p.parser(s); !ok {
					b.Fatalf("%s: prompt of %d bytes not read", p.name, len(s))
				}
			}
		})
	}
}

// TestLinear checks that parsing each pathological prompt takes work
// linear in its length, without timing it: doubling the prompt may at most
// about double the bytes the parser's searches look at (scan.searched) and
// the bytes it allocates. Searching the rest of the prompt at each turn
// quadruples the first, and copying a growing merged turn the second.
func TestLinear(t *testing.T) {
	const n, limit = 128 << 10, 2.5
	for _, p := range pathological {
		t.Run(p.name, func(t *testing.T) {
			var searched, allocated [2]float64
			for i, size := range []int{n, 2 * n} {
				s := p.prompt(size)
				var sc scan
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				ok := true
				if p.scanned != nil {
					_, ok = p.scanned(&sc, s)
				} else {
					_, ok = p.parser(s)
				}
				runtime.ReadMemStats(&after)
				if !ok {
					t.Fatalf("%s: prompt of %d bytes not read", p.name, len(s))
				}
				searched[i], allocated[i] = float64(sc.searched), float64(after.TotalAlloc-before.TotalAlloc)
			}
			if searched[1] > limit*searched[0] {
				t.Errorf("%s searched %.0f bytes of a %d-byte prompt and %.0f of one twice as long, more than %gx", p.name, searched[0], n, searched[1], limit)
			}
			if allocated[1] > limit*allocated[0] {
				t.Errorf("%s allocated %.0f bytes for a %d-byte prompt and %.0f for one twice as long, more than %gx", p.name, allocated[0], n, allocated[1], limit)
			}
		})
	}
}
