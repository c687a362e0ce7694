package llm

import (
	"context"
	"fmt"
	"testing"
)

// benchModel loads the real SmolLM2 model with the given thread count.
func benchModel(b *testing.B, threads int) *Model {
	b.Helper()
	m, err := Load(smolPath(b), Options{Archs: testArchs, Threads: threads})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// BenchmarkDecode measures single-token decode steps on SmolLM2-135M
// (Q4_1) with 64 to 192 tokens in the KV cache.
func BenchmarkDecode(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			m := benchModel(b, threads)
			s, err := m.NewSession(256)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			prompt := testPrompt(64, 49152)
			if _, err := s.Eval(ctx, prompt); err != nil {
				b.Fatal(err)
			}
			tok := []int32{504}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if s.Len() >= 192 {
					s.Truncate(64)
				}
				if _, err := s.Eval(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

// BenchmarkPrefill measures batched evaluation of a 128-token prompt on
// SmolLM2-135M (Q4_1).
func BenchmarkPrefill(b *testing.B) {
	const n = 128
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			m := benchModel(b, threads)
			s, err := m.NewSession(256)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			prompt := testPrompt(n, 49152)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.Reset()
				if _, err := s.Eval(ctx, prompt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

// BenchmarkJSONMask measures one JSON constraint's Mask over SmolLM2's
// 49152-token vocabulary, inside a string (where almost every token may
// come next, the worst case) and between values.
func BenchmarkJSONMask(b *testing.B) {
	m := benchModel(b, 1)
	logits := make([]float32, m.Tokenizer().VocabSize())
	for _, tc := range []struct{ name, prefix string }{
		{"in-string", `{"name": "Par`},
		{"after-value", `{"name": "Paris"`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := m.JSONConstraint(nil, true)
			for _, id := range m.Tokenizer().Encode(tc.prefix, false) {
				if !c.Accept(id) {
					b.Fatalf("prefix %q refused", tc.prefix)
				}
			}
			for b.Loop() {
				c.Mask(logits)
			}
		})
	}
}
