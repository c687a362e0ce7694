// Package bert is the built-in sentence-embedding engine: a BERT encoder
// (post-LayerNorm, absolute position and token-type embeddings, exact GELU)
// loaded from a sentence-transformers model directory with safetensors
// weights, followed by mean (or CLS) pooling and L2 normalisation. The
// default model is all-MiniLM-L6-v2.
//
// All math is float32. Sequences of a batch are packed end to end without
// padding for the dense layers, and attention runs per sequence and head,
// so a batch costs what its real tokens cost.
package bert

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/outcrop/outcrop/internal/engine/bert/gemm"
	"github.com/outcrop/outcrop/internal/engine/safetensors"
	"github.com/outcrop/outcrop/internal/engine/wordpiece"
)

// Options tunes a Model.
type Options struct {
	// Threads is the number of threads Embed computes on; 0 means
	// runtime.GOMAXPROCS(0).
	Threads int
}

// config is the subset of a Hugging Face BERT config.json the encoder uses.
type config struct {
	VocabSize       int     `json:"vocab_size"`
	Hidden          int     `json:"hidden_size"`
	Layers          int     `json:"num_hidden_layers"`
	Heads           int     `json:"num_attention_heads"`
	Intermediate    int     `json:"intermediate_size"`
	HiddenAct       string  `json:"hidden_act"`
	LayerNormEps    float64 `json:"layer_norm_eps"`
	MaxPositions    int     `json:"max_position_embeddings"`
	TypeVocabSize   int     `json:"type_vocab_size"`
	PositionEmbType string  `json:"position_embedding_type"`
}

// Model is a loaded encoder. Embed calls are serialised: one call already
// uses every thread. Close releases the worker goroutines.
type Model struct {
	cfg       config
	tok       *wordpiece.Tokenizer
	maxTokens int
	meanPool  bool // else CLS pooling
	normalize bool
	eps       float32

	wordEmb, posEmb, typeEmb []float32
	embLNW, embLNB           []float32
	layers                   []layer

	mu      sync.Mutex // guards pool use and scratch
	pool    *pool
	scratch scratch
	closed  bool
}

// layer holds one encoder layer with its matrices packed for gemm.
type layer struct {
	qkv, qkvB   []float32 // K=H, N=3H: query, key and value side by side
	out, outB   []float32 // K=H, N=H
	ln1W, ln1B  []float32
	ffn1, ffn1B []float32 // K=H, N=I
	ffn2, ffn2B []float32 // K=I, N=H
	ln2W, ln2B  []float32
}

// Load reads a sentence-transformers BERT model from dir: config.json,
// model.safetensors, vocab.txt and, when present, tokenizer_config.json
// (do_lower_case), sentence_bert_config.json (max_seq_length),
// 1_Pooling/config.json (mean or CLS pooling) and modules.json (whether a
// Normalize module follows).
func Load(dir string, opts Options) (*Model, error) {
	var cfg config
	if err := readJSON(filepath.Join(dir, "config.json"), &cfg, false); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("bert: %s: %w", filepath.Join(dir, "config.json"), err)
	}
	m := &Model{cfg: cfg, eps: float32(cfg.LayerNormEps), meanPool: true, normalize: true}

	tc := struct {
		DoLowerCase *bool `json:"do_lower_case"`
	}{}
	if err := readJSON(filepath.Join(dir, "tokenizer_config.json"), &tc, true); err != nil {
		return nil, err
	}
	lower := tc.DoLowerCase == nil || *tc.DoLowerCase
	tok, err := wordpiece.Load(filepath.Join(dir, "vocab.txt"), lower)
	if err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	if tok.VocabSize() > cfg.VocabSize {
		return nil, fmt.Errorf("bert: vocab.txt has %d tokens, model only %d", tok.VocabSize(), cfg.VocabSize)
	}
	m.tok = tok

	st := struct {
		MaxSeqLength int `json:"max_seq_length"`
	}{}
	if err := readJSON(filepath.Join(dir, "sentence_bert_config.json"), &st, true); err != nil {
		return nil, err
	}
	m.maxTokens = min(cfg.MaxPositions, 512)
	if st.MaxSeqLength > 0 {
		m.maxTokens = min(st.MaxSeqLength, cfg.MaxPositions)
	}
	if m.maxTokens < 2 {
		return nil, fmt.Errorf("bert: max sequence length %d is too short", m.maxTokens)
	}

	pc := struct {
		CLS  bool `json:"pooling_mode_cls_token"`
		Mean bool `json:"pooling_mode_mean_tokens"`
		Max  bool `json:"pooling_mode_max_tokens"`
		Sqrt bool `json:"pooling_mode_mean_sqrt_len_tokens"`
	}{Mean: true}
	if err := readJSON(filepath.Join(dir, "1_Pooling", "config.json"), &pc, true); err != nil {
		return nil, err
	}
	switch {
	case pc.Max || pc.Sqrt || pc.CLS == pc.Mean:
		return nil, fmt.Errorf("bert: unsupported pooling %+v: want exactly one of mean or CLS", pc)
	case pc.CLS:
		m.meanPool = false
	}

	var modules []struct {
		Type string `json:"type"`
	}
	if err := readJSON(filepath.Join(dir, "modules.json"), &modules, true); err != nil {
		return nil, err
	}
	if modules != nil {
		m.normalize = false
		for _, mod := range modules {
			if strings.HasSuffix(mod.Type, ".Normalize") {
				m.normalize = true
			}
		}
	}

	if err := m.loadWeights(filepath.Join(dir, "model.safetensors")); err != nil {
		return nil, err
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	m.pool = newPool(threads)
	m.scratch.workers = make([]workerScratch, threads)
	return m, nil
}

func (c config) validate() error {
	switch {
	case c.Hidden <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.Intermediate <= 0 || c.VocabSize <= 0 ||
		c.MaxPositions <= 0 || c.TypeVocabSize <= 0:
		return fmt.Errorf("non-positive dimension in %+v", c)
	case c.Hidden%c.Heads != 0:
		return fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", c.Hidden, c.Heads)
	case c.HiddenAct != "gelu":
		return fmt.Errorf("hidden_act %q unsupported, want gelu", c.HiddenAct)
	case c.PositionEmbType != "" && c.PositionEmbType != "absolute":
		return fmt.Errorf("position_embedding_type %q unsupported, want absolute", c.PositionEmbType)
	case c.LayerNormEps <= 0 || c.LayerNormEps > 1:
		return fmt.Errorf("layer_norm_eps %v out of range", c.LayerNormEps)
	case c.Layers > 1024 || c.Heads > c.Hidden:
		return fmt.Errorf("implausible config %+v", c)
	}
	return nil
}

// readJSON decodes path into v. When optional, a missing file leaves v as
// it is.
func readJSON(path string, v any, optional bool) error {
	b, err := os.ReadFile(path)
	if optional && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bert: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("bert: %s: %w", path, err)
	}
	return nil
}

// weights reads named tensors with shape checks. Names may carry a "bert."
// prefix, as in checkpoints saved from BertForX models.
type weights struct {
	f   *safetensors.File
	err error
}

func (w *weights) get(name string, shape ...int) []float32 {
	if w.err != nil {
		return nil
	}
	t, ok := w.f.Tensor(name)
	if !ok {
		t, ok = w.f.Tensor("bert." + name)
	}
	if !ok {
		w.err = fmt.Errorf("tensor %s missing", name)
		return nil
	}
	if len(t.Shape) != len(shape) {
		w.err = fmt.Errorf("tensor %s has shape %v, want %v", name, t.Shape, shape)
		return nil
	}
	for i := range shape {
		if t.Shape[i] != shape[i] {
			w.err = fmt.Errorf("tensor %s has shape %v, want %v", name, t.Shape, shape)
			return nil
		}
	}
	v, err := t.Float32s()
	if err != nil {
		w.err = err
	}
	return v
}

func (m *Model) loadWeights(path string) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return fmt.Errorf("bert: %w", err)
	}
	defer f.Close()
	c := m.cfg
	h, inter := c.Hidden, c.Intermediate
	w := &weights{f: f}
	m.wordEmb = w.get("embeddings.word_embeddings.weight", c.VocabSize, h)
	m.posEmb = w.get("embeddings.position_embeddings.weight", c.MaxPositions, h)
	m.typeEmb = w.get("embeddings.token_type_embeddings.weight", c.TypeVocabSize, h)
	m.embLNW = w.get("embeddings.LayerNorm.weight", h)
	m.embLNB = w.get("embeddings.LayerNorm.bias", h)
	m.layers = make([]layer, c.Layers)
	for i := range m.layers {
		p := fmt.Sprintf("encoder.layer.%d.", i)
		l := &m.layers[i]
		q := w.get(p+"attention.self.query.weight", h, h)
		k := w.get(p+"attention.self.key.weight", h, h)
		v := w.get(p+"attention.self.value.weight", h, h)
		qb := w.get(p+"attention.self.query.bias", h)
		kb := w.get(p+"attention.self.key.bias", h)
		vb := w.get(p+"attention.self.value.bias", h)
		if w.err == nil {
			l.qkv = gemm.PackT(nil, concat(q, k, v), 3*h, h, h)
			l.qkvB = concat(qb, kb, vb)
		}
		if o := w.get(p+"attention.output.dense.weight", h, h); w.err == nil {
			l.out = gemm.PackT(nil, o, h, h, h)
		}
		l.outB = w.get(p+"attention.output.dense.bias", h)
		l.ln1W = w.get(p+"attention.output.LayerNorm.weight", h)
		l.ln1B = w.get(p+"attention.output.LayerNorm.bias", h)
		if f1 := w.get(p+"intermediate.dense.weight", inter, h); w.err == nil {
			l.ffn1 = gemm.PackT(nil, f1, inter, h, h)
		}
		l.ffn1B = w.get(p+"intermediate.dense.bias", inter)
		if f2 := w.get(p+"output.dense.weight", h, inter); w.err == nil {
			l.ffn2 = gemm.PackT(nil, f2, h, inter, inter)
		}
		l.ffn2B = w.get(p+"output.dense.bias", h)
		l.ln2W = w.get(p+"output.LayerNorm.weight", h)
		l.ln2B = w.get(p+"output.LayerNorm.bias", h)
	}
	if w.err != nil {
		return fmt.Errorf("bert: %s: %w", path, w.err)
	}
	return nil
}

func concat(parts ...[]float32) []float32 {
	var out []float32
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Dimensions returns the length of the embedding vectors.
func (m *Model) Dimensions() int { return m.cfg.Hidden }

// MaxTokens returns the longest sequence the model reads, counting [CLS]
// and [SEP]; Embed truncates longer texts to it.
func (m *Model) MaxTokens() int { return m.maxTokens }

// CountTokens returns the length of text's token sequence including [CLS]
// and [SEP], before truncation: text is embedded whole when CountTokens(text)
// <= MaxTokens().
func (m *Model) CountTokens(text string) int { return m.tok.Count(text) + 2 }

// Close stops the worker goroutines. The model must not be used afterwards.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		m.pool.close()
	}
	return nil
}
