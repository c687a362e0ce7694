package bert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/engine/safetensors"
	"github.com/outcrop/outcrop/internal/engine/weightstest"
	"github.com/outcrop/outcrop/internal/engine/wordpiece"
)

// modelDir returns the all-MiniLM-L6-v2 directory, or skips the test.
func modelDir(t testing.TB) string {
	t.Helper()
	return filepath.Dir(weightstest.Path(t, "all-MiniLM-L6-v2/model.safetensors"))
}

func cosine(a []float32, b []float64) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * b[i]
		na += float64(a[i]) * float64(a[i])
		nb += b[i] * b[i]
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

func TestMiniLMGolden(t *testing.T) {
	if raceEnabled {
		t.Skip("real-model test skipped under -race: too slow; TestTinyVsReference covers the same code")
	}
	dir := modelDir(t)
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		MaxSeqLength int `json:"max_seq_length"`
		Cases        []struct {
			Text      string
			Tokens    int
			Embedding []float64
		}
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	for _, threads := range []int{1, 2} {
		t.Run(fmt.Sprintf("threads%d", threads), func(t *testing.T) {
			m, err := Load(dir, Options{Threads: threads})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			defer m.Close()
			if m.Dimensions() != 384 || m.MaxTokens() != g.MaxSeqLength {
				t.Errorf("Dimensions, MaxTokens = %d, %d; want 384, %d", m.Dimensions(), m.MaxTokens(), g.MaxSeqLength)
			}
			texts := make([]string, len(g.Cases))
			for i, c := range g.Cases {
				texts[i] = c.Text
			}
			got, err := m.Embed(context.Background(), texts)
			if err != nil {
				t.Fatalf("Embed: %v", err)
			}
			worst := 1.0
			for i, c := range g.Cases {
				cos := cosine(got[i], c.Embedding)
				worst = min(worst, cos)
				if cos < 0.999 {
					t.Errorf("Embed(%.40q): cosine with sentence-transformers = %.6f, want >= 0.999", c.Text, cos)
				}
				if n := min(m.CountTokens(c.Text), m.MaxTokens()); n != c.Tokens {
					t.Errorf("CountTokens(%.40q) = %d (capped), want %d", c.Text, n, c.Tokens)
				}
			}
			t.Logf("lowest cosine with sentence-transformers: %.9f", worst)
			// One at a time must agree with the batch.
			one, err := m.Embed(context.Background(), texts[3:4])
			if err != nil {
				t.Fatal(err)
			}
			for j := range one[0] {
				if d := math.Abs(float64(one[0][j] - got[3][j])); d > 1e-5 {
					t.Fatalf("single vs batch embedding differ at %d by %g", j, d)
				}
			}
		})
	}
}

// tiny describes a small random BERT written to a temporary directory.
type tiny struct {
	vocab                        []string
	hidden, heads, inter, layers int
	maxPos, maxSeq               int
	tensors                      map[string][]float64
	dir                          string
}

func newTiny(t *testing.T, seed uint64) *tiny {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	tm := &tiny{
		vocab:  []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "dog", "##s", ".", ",", "a", "red"},
		hidden: 24, heads: 3, inter: 40, layers: 2, maxPos: 24, maxSeq: 12,
		tensors: map[string][]float64{},
		dir:     t.TempDir(),
	}
	var ts []safetensors.Tensor
	add := func(name string, scale, offset float64, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v64 := make([]float64, n)
		v32 := make([]float32, n)
		for i := range v64 {
			v32[i] = float32(offset + scale*(r.Float64()*2-1))
			v64[i] = float64(v32[i])
		}
		tm.tensors[name] = v64
		ts = append(ts, safetensors.F32Tensor(name, shape, v32))
	}
	h, in := tm.hidden, tm.inter
	add("embeddings.word_embeddings.weight", 1, 0, len(tm.vocab), h)
	add("embeddings.position_embeddings.weight", 0.5, 0, tm.maxPos, h)
	add("embeddings.token_type_embeddings.weight", 0.5, 0, 2, h)
	add("embeddings.LayerNorm.weight", 0.2, 1, h)
	add("embeddings.LayerNorm.bias", 0.2, 0, h)
	for l := range tm.layers {
		p := fmt.Sprintf("encoder.layer.%d.", l)
		for _, qkv := range []string{"query", "key", "value"} {
			add(p+"attention.self."+qkv+".weight", 0.4, 0, h, h)
			add(p+"attention.self."+qkv+".bias", 0.2, 0, h)
		}
		add(p+"attention.output.dense.weight", 0.3, 0, h, h)
		add(p+"attention.output.dense.bias", 0.2, 0, h)
		add(p+"attention.output.LayerNorm.weight", 0.2, 1, h)
		add(p+"attention.output.LayerNorm.bias", 0.2, 0, h)
		add(p+"intermediate.dense.weight", 0.4, 0, in, h)
		add(p+"intermediate.dense.bias", 0.2, 0, in)
		add(p+"output.dense.weight", 0.3, 0, h, in)
		add(p+"output.dense.bias", 0.2, 0, h)
		add(p+"output.LayerNorm.weight", 0.2, 1, h)
		add(p+"output.LayerNorm.bias", 0.2, 0, h)
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"model.safetensors": buf.String(),
		"vocab.txt":         strings.Join(tm.vocab, "\n") + "\n",
		"config.json": fmt.Sprintf(`{"vocab_size":%d,"hidden_size":%d,"num_hidden_layers":%d,"num_attention_heads":%d,
			"intermediate_size":%d,"hidden_act":"gelu","layer_norm_eps":1e-12,"max_position_embeddings":%d,
			"type_vocab_size":2,"position_embedding_type":"absolute"}`, len(tm.vocab), h, tm.layers, tm.heads, in, tm.maxPos),
		"tokenizer_config.json":     `{"do_lower_case": true}`,
		"sentence_bert_config.json": fmt.Sprintf(`{"max_seq_length": %d}`, tm.maxSeq),
		"1_Pooling/config.json":     `{"pooling_mode_mean_tokens": true}`,
		"modules.json":              `[{"type":"sentence_transformers.models.Transformer"},{"type":"sentence_transformers.models.Pooling"},{"type":"sentence_transformers.models.Normalize"}]`,
	}
	for name, body := range files {
		p := filepath.Join(tm.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return tm
}

// reference is a float64 forward pass written from the BERT definition.
func (tm *tiny) reference(ids []int32) []float64 {
	w := tm.tensors
	h, nh := tm.hidden, tm.heads
	dh := h / nh
	n := len(ids)
	ln := func(x []float64, g, b []float64) {
		var mean, v float64
		for _, e := range x {
			mean += e
		}
		mean /= float64(len(x))
		for _, e := range x {
			v += (e - mean) * (e - mean)
		}
		v /= float64(len(x))
		for i := range x {
			x[i] = (x[i]-mean)/math.Sqrt(v+1e-12)*g[i] + b[i]
		}
	}
	lin := func(x []float64, wt, b []float64, out int) []float64 {
		in := len(x)
		y := make([]float64, out)
		for o := range out {
			s := b[o]
			for i := range in {
				s += wt[o*in+i] * x[i]
			}
			y[o] = s
		}
		return y
	}
	x := make([][]float64, n)
	for p, id := range ids {
		x[p] = make([]float64, h)
		for j := range h {
			x[p][j] = w["embeddings.word_embeddings.weight"][int(id)*h+j] + w["embeddings.position_embeddings.weight"][p*h+j] + w["embeddings.token_type_embeddings.weight"][j]
		}
		ln(x[p], w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
	}
	for l := range tm.layers {
		p := fmt.Sprintf("encoder.layer.%d.", l)
		q, k, v := make([][]float64, n), make([][]float64, n), make([][]float64, n)
		for i := range n {
			q[i] = lin(x[i], w[p+"attention.self.query.weight"], w[p+"attention.self.query.bias"], h)
			k[i] = lin(x[i], w[p+"attention.self.key.weight"], w[p+"attention.self.key.bias"], h)
			v[i] = lin(x[i], w[p+"attention.self.value.weight"], w[p+"attention.self.value.bias"], h)
		}
		nx := make([][]float64, n)
		for i := range n {
			ctx := make([]float64, h)
			for hd := range nh {
				sc := make([]float64, n)
				m := math.Inf(-1)
				for j := range n {
					var s float64
					for d := range dh {
						s += q[i][hd*dh+d] * k[j][hd*dh+d]
					}
					sc[j] = s / math.Sqrt(float64(dh))
					m = math.Max(m, sc[j])
				}
				var sum float64
				for j := range sc {
					sc[j] = math.Exp(sc[j] - m)
					sum += sc[j]
				}
				for j := range n {
					for d := range dh {
						ctx[hd*dh+d] += sc[j] / sum * v[j][hd*dh+d]
					}
				}
			}
			a := lin(ctx, w[p+"attention.output.dense.weight"], w[p+"attention.output.dense.bias"], h)
			for j := range h {
				a[j] += x[i][j]
			}
			ln(a, w[p+"attention.output.LayerNorm.weight"], w[p+"attention.output.LayerNorm.bias"])
			f := lin(a, w[p+"intermediate.dense.weight"], w[p+"intermediate.dense.bias"], tm.inter)
			for j, e := range f {
				f[j] = 0.5 * e * (1 + math.Erf(e/math.Sqrt2))
			}
			o := lin(f, w[p+"output.dense.weight"], w[p+"output.dense.bias"], h)
			for j := range h {
				o[j] += a[j]
			}
			ln(o, w[p+"output.LayerNorm.weight"], w[p+"output.LayerNorm.bias"])
			nx[i] = o
		}
		x = nx
	}
	out := make([]float64, h)
	for i := range n {
		for j := range h {
			out[j] += x[i][j] / float64(n)
		}
	}
	var ss float64
	for _, e := range out {
		ss += e * e
	}
	for j := range out {
		out[j] /= math.Sqrt(ss)
	}
	return out
}

func TestTinyVsReference(t *testing.T) {
	tm := newTiny(t, 1)
	tok, err := wordpiece.New(tm.vocab, true)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"", "the cat", "The cat sat on the mat.", "dogs, a red dog sat on a red mat",
		"the the the the the the the the the the the the the the the", // truncated to maxSeq
		"zebra", "a", "cats sat. dogs sat, the red mat",
	}
	for _, threads := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("threads%d", threads), func(t *testing.T) {
			m, err := Load(tm.dir, Options{Threads: threads})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			defer m.Close()
			if m.Dimensions() != tm.hidden || m.MaxTokens() != tm.maxSeq {
				t.Errorf("Dimensions, MaxTokens = %d, %d; want %d, %d", m.Dimensions(), m.MaxTokens(), tm.hidden, tm.maxSeq)
			}
			got, err := m.Embed(context.Background(), texts)
			if err != nil {
				t.Fatalf("Embed: %v", err)
			}
			for i, text := range texts {
				want := tm.reference(tok.Encode(text, tm.maxSeq))
				for j := range want {
					if d := math.Abs(float64(got[i][j]) - want[j]); d > 2e-5 {
						t.Errorf("Embed(%q)[%d] = %v, want %v (diff %g)", text, j, got[i][j], want[j], d)
						break
					}
				}
			}
		})
	}
}

func TestEmbedCancelled(t *testing.T) {
	tm := newTiny(t, 2)
	m, err := Load(tm.dir, Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Embed(ctx, []string{"the cat"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Embed(cancelled) error = %v, want context.Canceled", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Embed(context.Background(), []string{"the cat"}); err == nil {
		t.Errorf("Embed after Close succeeded")
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		body string
		want string
	}{
		{"bad config json", "config.json", "{", "config.json"},
		{"bad activation", "config.json", `{"vocab_size":16,"hidden_size":24,"num_hidden_layers":2,"num_attention_heads":3,"intermediate_size":40,"hidden_act":"relu","layer_norm_eps":1e-12,"max_position_embeddings":24,"type_vocab_size":2}`, "hidden_act"},
		{"heads do not divide", "config.json", `{"vocab_size":16,"hidden_size":24,"num_hidden_layers":2,"num_attention_heads":5,"intermediate_size":40,"hidden_act":"gelu","layer_norm_eps":1e-12,"max_position_embeddings":24,"type_vocab_size":2}`, "multiple"},
		{"shape mismatch", "config.json", `{"vocab_size":16,"hidden_size":24,"num_hidden_layers":2,"num_attention_heads":3,"intermediate_size":48,"hidden_act":"gelu","layer_norm_eps":1e-12,"max_position_embeddings":24,"type_vocab_size":2}`, "shape"},
		{"missing layer", "config.json", `{"vocab_size":16,"hidden_size":24,"num_hidden_layers":3,"num_attention_heads":3,"intermediate_size":40,"hidden_act":"gelu","layer_norm_eps":1e-12,"max_position_embeddings":24,"type_vocab_size":2}`, "missing"},
		{"max pooling", "1_Pooling/config.json", `{"pooling_mode_mean_tokens": false, "pooling_mode_max_tokens": true}`, "pooling"},
		{"corrupt weights", "model.safetensors", "\x08\x00\x00\x00\x00\x00\x00\x00{}", "safetensors"},
		{"no vocab", "vocab.txt", "a\nb\n", "[UNK]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tm := newTiny(t, 3)
			if err := os.WriteFile(filepath.Join(tm.dir, tc.file), []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := Load(tm.dir, Options{Threads: 1})
			if err == nil {
				m.Close()
				t.Fatalf("Load succeeded, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load error = %v, want containing %q", err, tc.want)
			}
		})
	}
}

// benchSentences reads the shared benchmark sentences of bench/embed.
func benchSentences(b *testing.B) []string {
	data, err := os.ReadFile("../../../bench/embed/sentences.txt")
	if err != nil {
		b.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	return out
}

// BenchmarkEmbed embeds bench/embed/sentences.txt, the sentences that
// bench/embed/ref.py gives sentence-transformers, at 1 and 2 threads.
func BenchmarkEmbed(b *testing.B) {
	dir := modelDir(b)
	sentences := benchSentences(b)
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads%d", threads), func(b *testing.B) {
			m, err := Load(dir, Options{Threads: threads})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			if _, err := m.Embed(context.Background(), sentences); err != nil { // warm-up
				b.Fatal(err)
			}
			cpu0 := cpuSeconds()
			b.ResetTimer()
			for b.Loop() {
				if _, err := m.Embed(context.Background(), sentences); err != nil {
					b.Fatal(err)
				}
			}
			n := float64(len(sentences) * b.N)
			b.ReportMetric(n/b.Elapsed().Seconds(), "sentences/s")
			// CPU time is steadier than wall time on a shared machine.
			b.ReportMetric(n/(cpuSeconds()-cpu0), "sentences/cpu-s")
		})
	}
}
