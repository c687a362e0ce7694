package llm

import (
	"context"
	"os"
	"testing"

	"github.com/outcrop/outcrop/internal/engine/gguf"
	"github.com/outcrop/outcrop/internal/engine/tensor"
)

// FuzzBind feeds mutated model files to the binding and validation code:
// it must reject them with an error or produce a model whose forward pass
// runs without panicking.
func FuzzBind(f *testing.F) {
	for _, c := range []synthConfig{
		{arch: "llama", dim: 32, ff: 32, heads: 2, kvHeads: 1, layers: 1, vocab: 16, matType: tensor.F32, embdType: tensor.F32, tied: true, ropeBase: 10000, ropeFreqs: true, seed: 1},
		{arch: "qwen2", dim: 32, ff: 64, heads: 4, kvHeads: 2, layers: 1, vocab: 16, matType: tensor.Q4_0, embdType: tensor.Q8_0, bias: true, ropeBase: 10000, seed: 2},
	} {
		sm := writeSynth(f, c)
		data, err := os.ReadFile(sm.path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	pool := tensor.NewPool(1)
	f.Cleanup(pool.Close)
	f.Fuzz(func(t *testing.T, data []byte) {
		gf, err := gguf.Parse(data)
		if err != nil {
			return
		}
		m, err := bind(gf, Options{Archs: testArchs})
		if err != nil {
			return
		}
		m.pool = pool
		s, err := m.NewSession(4)
		if err != nil {
			return
		}
		if _, err := s.Eval(context.Background(), []int32{0, int32(m.hp.vocab - 1)}); err != nil {
			t.Fatalf("Eval on a model that loaded: %v", err)
		}
	})
}
