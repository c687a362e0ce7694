package llm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/outcrop/outcrop/internal/engine/gguf"
	"github.com/outcrop/outcrop/internal/engine/tensor"
)

// synthConfig describes a tiny random model written by writeSynth.
type synthConfig struct {
	arch                            string
	dim, ff, heads, kvHeads, layers int
	vocab                           int
	matType, embdType               tensor.Type
	tied, bias                      bool
	ropeBase                        float64
	ropeFreqs                       bool // write rope_freqs.weight
	seed                            uint64
}

func (c synthConfig) headDim() int { return c.dim / c.heads }

// synthModel is the file plus the dequantized weights the reference uses.
type synthModel struct {
	cfg  synthConfig
	path string
	w    map[string][]float64 // by tensor name, row-major
}

// testTokens returns the vocabulary of synthetic models: printable token
// texts "t0", "t1", … and <|im_end|> as the last (control, EOS) token.
func testTokens(n int) ([]string, []int32) {
	toks := make([]string, n)
	types := make([]int32, n)
	for i := range toks {
		toks[i] = "t" + strconv.Itoa(i) + " "
		types[i] = 1
	}
	toks[n-1], types[n-1] = "<|im_end|>", 3
	return toks, types
}

func archArch(name string) Arch {
	switch name {
	case "qwen2":
		return Arch{Name: "qwen2", Rope: RopeNeox, RopeFreqBase: 1e6, Global: LlamaGlobal(), Layer: LlamaLayer(true)}
	}
	return Arch{Name: "llama", Rope: RopeNormal, RopeFreqBase: 1e4, Global: LlamaGlobal(), Layer: LlamaLayer(false)}
}

var testArchs = []Arch{archArch("llama"), archArch("qwen2")}

func writeSynth(t testing.TB, c synthConfig) *synthModel {
	t.Helper()
	r := rand.New(rand.NewPCG(c.seed, 7))
	sm := &synthModel{cfg: c, w: map[string][]float64{}}
	var ts []gguf.WriteTensor
	add := func(name string, typ tensor.Type, rows, cols int, scale float64, offset float64) {
		n := rows * max(cols, 1)
		f := make([]float32, n)
		for i := range f {
			f[i] = float32(offset + scale*(r.Float64()*2-1))
		}
		data, err := tensor.Quantize(typ, f)
		if err != nil {
			t.Fatalf("quantize %s: %v", name, err)
		}
		back := make([]float32, n)
		if err := tensor.Dequantize(typ, data, back); err != nil {
			t.Fatal(err)
		}
		w := make([]float64, n)
		for i, v := range back {
			w[i] = float64(v)
		}
		sm.w[name] = w
		dims := []uint64{uint64(rows)}
		if cols > 0 {
			dims = []uint64{uint64(cols), uint64(rows)}
		}
		ts = append(ts, gguf.WriteTensor{Name: name, Dims: dims, Type: typ, Data: data})
	}
	hd := c.headDim()
	qd, kvd := c.heads*hd, c.kvHeads*hd
	add("token_embd.weight", c.embdType, c.vocab, c.dim, 1, 0)
	add("output_norm.weight", tensor.F32, c.dim, 0, 0.2, 1)
	if !c.tied {
		add("output.weight", c.matType, c.vocab, c.dim, 1/math.Sqrt(float64(c.dim)), 0)
	}
	if c.ropeFreqs {
		add("rope_freqs.weight", tensor.F32, hd/2, 0, 0.5, 2)
	}
	for l := 0; l < c.layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		add(p+"attn_norm.weight", tensor.F32, c.dim, 0, 0.2, 1)
		add(p+"attn_q.weight", c.matType, qd, c.dim, 2/math.Sqrt(float64(c.dim)), 0)
		add(p+"attn_k.weight", c.matType, kvd, c.dim, 2/math.Sqrt(float64(c.dim)), 0)
		add(p+"attn_v.weight", c.matType, kvd, c.dim, 1/math.Sqrt(float64(c.dim)), 0)
		if c.bias {
			add(p+"attn_q.bias", tensor.F32, qd, 0, 0.5, 0)
			add(p+"attn_k.bias", tensor.F32, kvd, 0, 0.5, 0)
			add(p+"attn_v.bias", tensor.F32, kvd, 0, 0.5, 0)
		}
		add(p+"attn_output.weight", c.matType, c.dim, qd, 1/math.Sqrt(float64(qd)), 0)
		add(p+"ffn_norm.weight", tensor.F32, c.dim, 0, 0.2, 1)
		add(p+"ffn_gate.weight", c.matType, c.ff, c.dim, 2/math.Sqrt(float64(c.dim)), 0)
		add(p+"ffn_up.weight", c.matType, c.ff, c.dim, 2/math.Sqrt(float64(c.dim)), 0)
		add(p+"ffn_down.weight", c.matType, c.dim, c.ff, 1/math.Sqrt(float64(c.ff)), 0)
	}
	toks, types := testTokens(c.vocab)
	a := c.arch
	kv := []gguf.KV{
		{Key: "general.architecture", Value: gguf.Value{Type: gguf.TypeString, V: a}},
		{Key: a + ".block_count", Value: gguf.Value{Type: gguf.TypeUint32, V: uint32(c.layers)}},
		{Key: a + ".context_length", Value: gguf.Value{Type: gguf.TypeUint32, V: uint32(256)}},
		{Key: a + ".embedding_length", Value: gguf.Value{Type: gguf.TypeUint32, V: uint32(c.dim)}},
		{Key: a + ".feed_forward_length", Value: gguf.Value{Type: gguf.TypeUint32, V: uint32(c.ff)}},
		{Key: a + ".attention.head_count", Value: gguf.Value{Type: gguf.TypeUint32, V: uint32(c.heads)}},
		{Key: a + ".attention.head_count_kv", Value: gguf.Value{Type: gguf.TypeUint32, V: uint32(c.kvHeads)}},
		{Key: a + ".rope.freq_base", Value: gguf.Value{Type: gguf.TypeFloat32, V: float32(c.ropeBase)}},
		{Key: a + ".attention.layer_norm_rms_epsilon", Value: gguf.Value{Type: gguf.TypeFloat32, V: float32(1e-5)}},
		{Key: "tokenizer.ggml.model", Value: gguf.Value{Type: gguf.TypeString, V: "gpt2"}},
		{Key: "tokenizer.ggml.pre", Value: gguf.Value{Type: gguf.TypeString, V: "smollm"}},
		{Key: "tokenizer.ggml.tokens", Value: gguf.Value{Type: gguf.TypeArray, V: toks}},
		{Key: "tokenizer.ggml.token_type", Value: gguf.Value{Type: gguf.TypeArray, V: types}},
		{Key: "tokenizer.ggml.merges", Value: gguf.Value{Type: gguf.TypeArray, V: []string{}}},
		{Key: "tokenizer.ggml.eos_token_id", Value: gguf.Value{Type: gguf.TypeUint32, V: uint32(c.vocab - 1)}},
		{Key: "tokenizer.chat_template", Value: gguf.Value{Type: gguf.TypeString, V: "{{ messages }}"}},
	}
	sm.path = filepath.Join(t.TempDir(), c.arch+".gguf")
	out, err := os.Create(sm.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := gguf.Write(out, kv, ts); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return sm
}

// reference is a straightforward float64 forward pass over the
// dequantized weights. It returns the logits of every position.
func (sm *synthModel) reference(tokens []int32) [][]float64 {
	c := sm.cfg
	w := sm.w
	hd := c.headDim()
	qd, kvd := c.heads*hd, c.kvHeads*hd
	base := c.ropeBase
	matvec := func(name string, rows, cols int, x []float64) []float64 {
		m := w[name]
		out := make([]float64, rows)
		for r := range out {
			var s float64
			for j := 0; j < cols; j++ {
				s += m[r*cols+j] * x[j]
			}
			out[r] = s
		}
		return out
	}
	norm := func(x []float64, name string) []float64 {
		var ss float64
		for _, v := range x {
			ss += v * v
		}
		inv := 1 / math.Sqrt(ss/float64(len(x))+1e-5)
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = v * inv * w[name][i]
		}
		return out
	}
	rope := func(v []float64, pos int) {
		half := hd / 2
		for j := 0; j < half; j++ {
			theta := float64(pos) * math.Pow(base, -2*float64(j)/float64(hd))
			if c.ropeFreqs {
				theta /= w["rope_freqs.weight"][j]
			}
			cs, sn := math.Cos(theta), math.Sin(theta)
			a, b := 2*j, 2*j+1
			if c.arch == "qwen2" {
				a, b = j, j+half
			}
			x0, x1 := v[a], v[b]
			v[a], v[b] = x0*cs-x1*sn, x0*sn+x1*cs
		}
	}
	keys := make([][][]float64, c.layers) // layer, pos, kvd
	vals := make([][][]float64, c.layers)
	var logits [][]float64
	for pos, id := range tokens {
		x := append([]float64(nil), w["token_embd.weight"][int(id)*c.dim:(int(id)+1)*c.dim]...)
		for l := 0; l < c.layers; l++ {
			p := fmt.Sprintf("blk.%d.", l)
			h := norm(x, p+"attn_norm.weight")
			q := matvec(p+"attn_q.weight", qd, c.dim, h)
			k := matvec(p+"attn_k.weight", kvd, c.dim, h)
			v := matvec(p+"attn_v.weight", kvd, c.dim, h)
			if c.bias {
				for i := range q {
					q[i] += w[p+"attn_q.bias"][i]
				}
				for i := range k {
					k[i] += w[p+"attn_k.bias"][i]
					v[i] += w[p+"attn_v.bias"][i]
				}
			}
			for hh := 0; hh < c.heads; hh++ {
				rope(q[hh*hd:(hh+1)*hd], pos)
			}
			for hh := 0; hh < c.kvHeads; hh++ {
				rope(k[hh*hd:(hh+1)*hd], pos)
			}
			// The engine keeps keys and values in half precision.
			keys[l] = append(keys[l], roundHalf64(k))
			vals[l] = append(vals[l], roundHalf64(v))
			att := make([]float64, qd)
			for hh := 0; hh < c.heads; hh++ {
				g := hh / (c.heads / c.kvHeads)
				sc := make([]float64, pos+1)
				mx := math.Inf(-1)
				for t := 0; t <= pos; t++ {
					var s float64
					for j := 0; j < hd; j++ {
						s += q[hh*hd+j] * keys[l][t][g*hd+j]
					}
					sc[t] = s / math.Sqrt(float64(hd))
					mx = math.Max(mx, sc[t])
				}
				var sum float64
				for t := range sc {
					sc[t] = math.Exp(sc[t] - mx)
					sum += sc[t]
				}
				for t := range sc {
					for j := 0; j < hd; j++ {
						att[hh*hd+j] += sc[t] / sum * vals[l][t][g*hd+j]
					}
				}
			}
			o := matvec(p+"attn_output.weight", c.dim, qd, att)
			for i := range x {
				x[i] += o[i]
			}
			h = norm(x, p+"ffn_norm.weight")
			gt := matvec(p+"ffn_gate.weight", c.ff, c.dim, h)
			up := matvec(p+"ffn_up.weight", c.ff, c.dim, h)
			for i := range gt {
				gt[i] = gt[i] / (1 + math.Exp(-gt[i])) * up[i]
			}
			d := matvec(p+"ffn_down.weight", c.dim, c.ff, gt)
			for i := range x {
				x[i] += d[i]
			}
		}
		h := norm(x, "output_norm.weight")
		out := "output.weight"
		if c.tied {
			out = "token_embd.weight"
		}
		logits = append(logits, matvec(out, c.vocab, c.dim, h))
	}
	return logits
}

// roundHalf64 rounds each element of x to float16 precision.
func roundHalf64(x []float64) []float64 {
	f := make([]float32, len(x))
	for i, v := range x {
		f[i] = float32(v)
	}
	tensor.RoundToHalf(f)
	for i, v := range f {
		x[i] = float64(v)
	}
	return x
}
