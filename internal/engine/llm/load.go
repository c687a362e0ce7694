package llm

import (
	"sync"

	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"

	"github.com/outcrop/outcrop/internal/engine/gguf"
	"github.com/outcrop/outcrop/internal/engine/grammar"
	"github.com/outcrop/outcrop/internal/engine/tensor"
	"github.com/outcrop/outcrop/internal/engine/tokenizer"
)

// Options configures Load.
type Options struct {
	// Archs are the architectures Load may bind (normally arch/all.Archs).
	Archs []Arch
	// Pool runs the matrix kernels. If nil, Load starts a pool of Threads
	// goroutines that Model.Close stops.
	Pool *tensor.Pool
	// Threads is the size of the pool Load starts; 0 means GOMAXPROCS.
	Threads int
}

// Info summarises a loaded model.
type Info struct {
	Arch            string // general.architecture
	Name            string // general.name, if present
	ContextLength   int    // trained context length (<arch>.context_length)
	VocabSize       int    // logits per token
	EmbeddingDim    int
	Layers          int
	Heads, KVHeads  int
	HeadDim         int
	FileSize        int64 // bytes of the GGUF file
	KVBytesPerToken int   // KV-cache bytes one position costs (F16 keys and values)
}

// hparams are the numbers the forward pass needs.
type hparams struct {
	layers, dim, ff, heads, kvHeads, headDim, ropeDim, ctx, vocab int
	eps                                                           float32
}

func (h *hparams) qDim() int  { return h.heads * h.headDim }
func (h *hparams) kvDim() int { return h.kvHeads * h.headDim }

// layer holds one transformer block's weights.
type layer struct {
	attnNorm, ffnNorm []float32
	q, k, v, o        tensor.Matrix
	bq, bk, bv        []float32 // nil when the model has no biases
	gate, up, down    tensor.Matrix
}

// Model is a loaded model: immutable weights, tokenizer and hyperparameters.
// It is safe for concurrent use; each concurrent sequence needs its own
// Session.
type Model struct {
	arch     Arch
	hp       hparams
	info     Info
	file     *gguf.File
	tok      *tokenizer.Tokenizer
	template string
	pool     *tensor.Pool
	ownPool  bool

	embd, output tensor.Matrix
	outNorm      []float32
	invFreq      []float64 // rope angle per position for each dimension pair
	ropeFactors  []float32 // rope_freqs.weight, or nil
	ropeStyle    RopeStyle
	layers       []layer

	jsonOnce  sync.Once
	jsonVocab *grammar.Vocab // the tokenizer's trie for JSON output, built on first use
}

// Load opens a GGUF model file, checks that every tensor its architecture
// needs exists with the right shape and a supported type, and builds the
// tokenizer. The file stays mapped until Close.
func Load(path string, opts Options) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	m, err := bind(f, opts)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	if st, err := os.Stat(path); err == nil {
		m.info.FileSize = st.Size()
	}
	if opts.Pool != nil {
		m.pool = opts.Pool
	} else {
		threads := opts.Threads
		if threads <= 0 {
			threads = runtime.GOMAXPROCS(0)
		}
		m.pool, m.ownPool = tensor.NewPool(threads), true
	}
	return m, nil
}

// bind builds a Model over a parsed file.
func bind(f *gguf.File, opts Options) (*Model, error) {
	name, ok := f.String("general.architecture")
	if !ok {
		return nil, errors.New("general.architecture is missing")
	}
	var arch *Arch
	var known []string
	for i := range opts.Archs {
		known = append(known, opts.Archs[i].Name)
		if opts.Archs[i].Name == name {
			arch = &opts.Archs[i]
		}
	}
	if arch == nil {
		return nil, fmt.Errorf("unsupported architecture %q (supported: %s)", name, strings.Join(known, ", "))
	}
	hp, err := readHParams(f, arch.Name)
	if err != nil {
		return nil, err
	}
	m := &Model{arch: *arch, file: f, ropeStyle: arch.Rope}
	if err := m.bindTensors(f, &hp); err != nil {
		return nil, err
	}
	m.hp = hp
	if err := m.initRope(f, arch); err != nil {
		return nil, err
	}
	v, err := vocabFromGGUF(f)
	if err != nil {
		return nil, err
	}
	if len(v.Tokens) > hp.vocab {
		return nil, fmt.Errorf("tokenizer has %d tokens but the embedding only %d rows", len(v.Tokens), hp.vocab)
	}
	if m.tok, err = tokenizer.New(v); err != nil {
		return nil, err
	}
	m.template, _ = f.String("tokenizer.chat_template")
	m.info = Info{
		Arch: name, ContextLength: hp.ctx, VocabSize: hp.vocab, EmbeddingDim: hp.dim,
		Layers: hp.layers, Heads: hp.heads, KVHeads: hp.kvHeads, HeadDim: hp.headDim,
		KVBytesPerToken: 2 * hp.layers * hp.kvDim() * 2,
	}
	m.info.Name, _ = f.String("general.name")
	return m, nil
}

// maxDim bounds hyperparameters before tensor shapes are checked, so that
// products of them cannot overflow.
const maxDim = 1 << 24

func readHParams(f *gguf.File, arch string) (hparams, error) {
	var hp hparams
	get := func(key string, dst *int, def int) error {
		v, ok := f.Uint(arch + "." + key)
		if !ok {
			if def < 0 {
				return fmt.Errorf("%s.%s is missing or not a non-negative integer", arch, key)
			}
			*dst = def
			return nil
		}
		if v > maxDim {
			return fmt.Errorf("%s.%s = %d is out of range", arch, key, v)
		}
		*dst = int(v)
		return nil
	}
	for _, e := range []struct {
		key string
		dst *int
	}{
		{"block_count", &hp.layers},
		{"embedding_length", &hp.dim},
		{"feed_forward_length", &hp.ff},
		{"attention.head_count", &hp.heads},
	} {
		if err := get(e.key, e.dst, -1); err != nil {
			return hp, err
		}
	}
	if hp.layers == 0 || hp.dim == 0 || hp.ff == 0 || hp.heads == 0 {
		return hp, fmt.Errorf("%s: zero block_count, embedding_length, feed_forward_length or head_count", arch)
	}
	if err := get("attention.head_count_kv", &hp.kvHeads, hp.heads); err != nil {
		return hp, err
	}
	if hp.kvHeads == 0 || hp.heads%hp.kvHeads != 0 {
		return hp, fmt.Errorf("%s: %d heads is not a multiple of %d KV heads", arch, hp.heads, hp.kvHeads)
	}
	if err := get("attention.key_length", &hp.headDim, hp.dim/hp.heads); err != nil {
		return hp, err
	}
	var vlen int
	if err := get("attention.value_length", &vlen, hp.headDim); err != nil {
		return hp, err
	}
	if vlen != hp.headDim || hp.headDim == 0 || hp.headDim%2 != 0 {
		return hp, fmt.Errorf("%s: unsupported head size (key %d, value %d)", arch, hp.headDim, vlen)
	}
	if err := get("rope.dimension_count", &hp.ropeDim, hp.headDim); err != nil {
		return hp, err
	}
	if hp.ropeDim > hp.headDim || hp.ropeDim%2 != 0 {
		return hp, fmt.Errorf("%s: rope dimension %d does not fit head size %d", arch, hp.ropeDim, hp.headDim)
	}
	if err := get("context_length", &hp.ctx, 0); err != nil {
		return hp, err
	}
	hp.eps = 1e-5
	if e, ok := f.Float(arch + ".attention.layer_norm_rms_epsilon"); ok {
		if !(e > 0 && e < 1) {
			return hp, fmt.Errorf("%s: rms epsilon %g out of range", arch, e)
		}
		hp.eps = float32(e)
	}
	return hp, nil
}

// initRope precomputes the per-pair rotation frequencies.
func (m *Model) initRope(f *gguf.File, arch *Arch) error {
	hp := &m.hp
	base := arch.RopeFreqBase
	if base == 0 {
		base = 10000
	}
	if b, ok := f.Float(arch.Name + ".rope.freq_base"); ok {
		base = b
	}
	if !(base > 1) || math.IsInf(base, 0) {
		return fmt.Errorf("rope frequency base %g out of range", base)
	}
	scale := 1.0
	typ, _ := f.String(arch.Name + ".rope.scaling.type")
	switch typ {
	case "", "none", "llama3": // llama3 scaling is carried by rope_freqs.weight
	case "linear":
		if fac, ok := f.Float(arch.Name + ".rope.scaling.factor"); ok && fac > 0 {
			scale = 1 / fac
		}
	default:
		return fmt.Errorf("unsupported rope scaling %q", typ)
	}
	m.invFreq = make([]float64, hp.ropeDim/2)
	ff := m.ropeFactors
	for i := range m.invFreq {
		v := scale * math.Pow(base, -2*float64(i)/float64(hp.ropeDim))
		if ff != nil {
			v /= float64(ff[i])
		}
		m.invFreq[i] = v
	}
	return nil
}

// vocabFromGGUF reads the tokenizer.ggml.* metadata.
func vocabFromGGUF(f *gguf.File) (tokenizer.Vocab, error) {
	var v tokenizer.Vocab
	var ok bool
	if v.Model, ok = f.String("tokenizer.ggml.model"); !ok {
		return v, errors.New("tokenizer.ggml.model is missing")
	}
	v.Pre, _ = f.String("tokenizer.ggml.pre")
	if v.Tokens, ok = f.Strings("tokenizer.ggml.tokens"); !ok {
		return v, errors.New("tokenizer.ggml.tokens is missing")
	}
	v.Scores, _ = f.Float32s("tokenizer.ggml.scores")
	v.Types, _ = f.Int32s("tokenizer.ggml.token_type")
	v.Merges, _ = f.Strings("tokenizer.ggml.merges")
	id := func(key string) int32 {
		if x, ok := f.Int("tokenizer.ggml." + key); ok && x >= 0 && x < int64(len(v.Tokens)) {
			return int32(x)
		}
		return -1
	}
	v.BOS, v.EOS, v.EOT, v.EOM = id("bos_token_id"), id("eos_token_id"), id("eot_token_id"), id("eom_token_id")
	v.UNK, v.PAD = id("unknown_token_id"), id("padding_token_id")
	spm := v.Model == "llama"
	flag := func(key string, def bool) bool {
		if b, ok := f.Bool("tokenizer.ggml." + key); ok {
			return b
		}
		return def
	}
	v.AddBOS = flag("add_bos_token", spm)
	v.AddEOS = flag("add_eos_token", false)
	v.AddSpacePrefix = flag("add_space_prefix", spm)
	if v.Scores != nil && len(v.Scores) != len(v.Tokens) {
		v.Scores = nil
	}
	return v, nil
}

// Info returns the model's summary.
func (m *Model) Info() Info { return m.info }

// Tokenizer returns the model's tokenizer.
func (m *Model) Tokenizer() *tokenizer.Tokenizer { return m.tok }

// JSONConstraint returns a constraint (for sample.Params) that makes one
// generation's output a JSON text, an object with objectOnly, that follows
// sc when sc is not nil. The vocabulary's trie is built on the first call
// and shared.
func (m *Model) JSONConstraint(sc *grammar.Schema, objectOnly bool) *grammar.Constraint {
	m.jsonOnce.Do(func() {
		n := m.tok.VocabSize()
		pieces, text := make([]string, n), make([]bool, n)
		var eog []int32
		for id := range int32(n) {
			pieces[id], text[id] = m.tok.Piece(id), m.tok.IsText(id)
			if m.tok.IsEndOfGeneration(id) {
				eog = append(eog, id)
			}
		}
		m.jsonVocab = grammar.NewVocab(pieces, text, eog)
	})
	return m.jsonVocab.Schema(sc, objectOnly, m.tok.Piece)
}

// ChatTemplate returns the Jinja chat template stored in the file
// (tokenizer.chat_template), or "".
func (m *Model) ChatTemplate() string { return m.template }

// Close stops the pool Load started (if any) and unmaps the file. Sessions
// of the model must not be used afterwards.
func (m *Model) Close() error {
	if m.ownPool {
		m.pool.Close()
	}
	return m.file.Close()
}
