// Package tokenizer turns text into model token ids and back for the
// vocabularies GGUF files carry: byte-level BPE ("gpt2": GPT-2, SmolLM2,
// Qwen2, Llama 3) with the per-model pre-tokenizer splitters, and
// SentencePiece-style BPE ("llama": Llama 2, Mistral, TinyLlama) with byte
// fallback. Ids match the Hugging Face tokenizers for the same vocabulary.
//
// A Tokenizer is immutable after New and safe for concurrent use.
package tokenizer

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/text/unicode/norm"
)

// GGUF token types (tokenizer.ggml.token_type).
const (
	TypeNormal      = 1
	TypeUnknown     = 2
	TypeControl     = 3
	TypeUserDefined = 4
	TypeUnused      = 5
	TypeByte        = 6
)

// Vocab is a tokenizer vocabulary as GGUF stores it under tokenizer.ggml.*.
type Vocab struct {
	Model  string    // "gpt2" (byte-level BPE) or "llama" (SentencePiece-style BPE with byte fallback)
	Pre    string    // pre-tokenizer name from tokenizer.ggml.pre: "smollm", "qwen2", "llama-bpe", "default", ...
	Tokens []string  // token texts, indexed by id
	Scores []float32 // merge scores ("llama" only; higher merges first)
	Types  []int32   // GGUF token types (Type* constants); nil means all normal
	Merges []string  // "left right" pairs in rank order ("gpt2" only)

	// Special token ids, -1 when absent.
	BOS, EOS, EOT, EOM, UNK, PAD int32

	AddBOS, AddEOS bool // add BOS/EOS around every Encode

	// AddSpacePrefix prepends a space to text ("llama" only), GGUF
	// tokenizer.ggml.add_space_prefix, which defaults to true when absent.
	AddSpacePrefix bool
}

// Tokenizer encodes and decodes text for one vocabulary.
type Tokenizer struct {
	v     Vocab
	types []int32

	spm          bool
	split        splitFunc
	ignoreMerges bool
	nfc          bool // NFC-normalise text before splitting

	ids     map[string]int32 // token text → id
	rawIDs  map[string]int32 // raw bytes → id, byte-level normal tokens
	merges  map[uint64]merge // byte-level: pair → merged
	byteIDs [256]int32       // byte-level: id of each single-byte token; spm: <0xXX>
	pieces  []string         // decoded bytes of each token
	spmIDs  map[string]int32 // spm: normal pieces

	special specialMatcher
	eog     []bool
	cache   *wordCache
	states  sync.Pool // *encState scratch space
}

// isEOGText reports whether a control token with this text ends a turn in
// a common chat format.
func isEOGText(s string) bool {
	switch s {
	case "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<end_of_turn>",
		"</s>", "<|end_of_text|>", "<EOT>", "<|return|>", "<|call|>", "<|endofturn|>":
		return true
	}
	return false
}

// New builds a tokenizer from v. It fails on an unknown model or on ids and
// arrays that do not fit the token list.
func New(v Vocab) (*Tokenizer, error) {
	n := len(v.Tokens)
	if n == 0 {
		return nil, errors.New("tokenizer: empty vocabulary")
	}
	if v.Types != nil && len(v.Types) != n {
		return nil, fmt.Errorf("tokenizer: %d token types for %d tokens", len(v.Types), n)
	}
	for _, id := range []*int32{&v.BOS, &v.EOS, &v.EOT, &v.EOM, &v.UNK, &v.PAD} {
		if *id >= int32(n) || *id < -1 {
			*id = -1
		}
	}
	t := &Tokenizer{v: v, types: v.Types, ids: make(map[string]int32, n), cache: newWordCache(1 << 16)}
	if t.types == nil {
		t.types = make([]int32, n)
		for i := range t.types {
			t.types[i] = TypeNormal
		}
	}
	for i := n - 1; i >= 0; i-- { // lowest id wins for duplicate texts
		t.ids[v.Tokens[i]] = int32(i)
	}
	for i := range t.byteIDs {
		t.byteIDs[i] = -1
	}
	var err error
	switch v.Model {
	case "gpt2":
		err = t.initByteLevel()
	case "llama":
		err = t.initSPM()
	default:
		return nil, fmt.Errorf("tokenizer: unsupported model %q", v.Model)
	}
	if err != nil {
		return nil, err
	}
	var specials []string
	t.eog = make([]bool, n)
	for i, ty := range t.types {
		tok := v.Tokens[i]
		if (ty == TypeControl || ty == TypeUserDefined || ty == TypeUnknown) && tok != "" {
			specials = append(specials, tok)
		}
		if ty == TypeControl && isEOGText(tok) {
			t.eog[i] = true
		}
	}
	for _, id := range []int32{v.EOS, v.EOT, v.EOM} {
		if id >= 0 {
			t.eog[id] = true
		}
	}
	t.special = newSpecialMatcher(specials, t.ids, t.types)
	return t, nil
}

func (t *Tokenizer) initByteLevel() error {
	t.split, t.ignoreMerges, t.nfc = splitterFor(t.v.Pre)
	t.pieces = make([]string, len(t.v.Tokens))
	t.rawIDs = make(map[string]int32, len(t.v.Tokens))
	for i := len(t.v.Tokens) - 1; i >= 0; i-- {
		tok := t.v.Tokens[i]
		ty := t.types[i]
		raw, ok := byteLevelDecode(tok)
		if !ok || ty == TypeControl || ty == TypeUserDefined {
			t.pieces[i] = tok
			continue
		}
		t.pieces[i] = string(raw)
		if ty == TypeNormal || ty == TypeByte || ty == TypeUnused {
			t.rawIDs[t.pieces[i]] = int32(i)
		}
	}
	for b := 0; b < 256; b++ {
		if id, ok := t.ids[string(byteRunes[b])]; ok {
			t.byteIDs[b] = id
		}
	}
	t.merges = make(map[uint64]merge, len(t.v.Merges))
	for rank, m := range t.v.Merges {
		l, r, ok := strings.Cut(m, " ")
		if !ok {
			return fmt.Errorf("tokenizer: merge %d %q has no space", rank, m)
		}
		a, okA := t.ids[l]
		b, okB := t.ids[r]
		c, okC := t.ids[l+r]
		if !okA || !okB || !okC {
			continue // llama.cpp and Hugging Face skip these too
		}
		k := pairKey(a, b)
		if _, dup := t.merges[k]; !dup {
			t.merges[k] = merge{rank: int32(rank), id: c}
		}
	}
	return nil
}

// Encode returns the token ids of text. With parseSpecial, the texts of
// control and user-defined tokens in text become their ids; without it
// only user-defined tokens do. BOS and EOS are added per Vocab.AddBOS and
// Vocab.AddEOS.
func (t *Tokenizer) Encode(text string, parseSpecial bool) []int32 {
	out := make([]int32, 0, len(text)/3+2)
	if t.v.AddBOS && t.v.BOS >= 0 {
		out = append(out, t.v.BOS)
	}
	st, _ := t.states.Get().(*encState)
	if st == nil {
		st = new(encState)
	}
	defer t.states.Put(st)
	afterSpecial := true
	for len(text) > 0 {
		pos, end, id := t.special.next(text, parseSpecial)
		if pos < 0 {
			out = t.encodeText(st, text, afterSpecial, out)
			break
		}
		if pos > 0 {
			out = t.encodeText(st, text[:pos], afterSpecial, out)
		}
		out = append(out, id)
		afterSpecial = true
		text = text[end:]
	}
	if t.v.AddEOS && t.v.EOS >= 0 {
		out = append(out, t.v.EOS)
	}
	return out
}

// encState is per-call scratch space, pooled so Encode does not allocate it.
type encState struct {
	ends []int
	bpe  bpeState
	spm  spmState
}

// encodeText encodes text that holds no special token.
func (t *Tokenizer) encodeText(st *encState, text string, afterSpecial bool, out []int32) []int32 {
	if t.spm {
		return t.encodeSPM(&st.spm, text, afterSpecial, out)
	}
	if t.nfc && !norm.NFC.IsNormalString(text) {
		text = norm.NFC.String(text)
	}
	st.ends = t.split(text, st.ends[:0])
	start := 0
	for _, end := range st.ends {
		out = t.encodeByteLevel(&st.bpe, text[start:end], out)
		start = end
	}
	return out
}

// Count returns how many tokens Encode(text, true) produces.
func (t *Tokenizer) Count(text string) int { return len(t.Encode(text, true)) }

// Decode returns the text of ids, special tokens included as their text.
// Ids out of range are skipped. The result may hold invalid UTF-8 when ids
// split a character; StreamDecoder handles that for streaming.
func (t *Tokenizer) Decode(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		if id >= 0 && int(id) < len(t.pieces) {
			b.WriteString(t.pieces[id])
		}
	}
	s := b.String()
	if t.spm && t.v.AddSpacePrefix && strings.HasPrefix(s, " ") {
		s = s[1:]
	}
	return s
}

// IsEndOfGeneration reports whether id ends a turn: EOS, EOT, EOM and
// control tokens such as <|im_end|> or <|eot_id|>.
func (t *Tokenizer) IsEndOfGeneration(id int32) bool {
	return id >= 0 && int(id) < len(t.eog) && t.eog[id]
}

// TokenID returns the id of the token whose text is exactly text.
func (t *Tokenizer) TokenID(text string) (int32, bool) {
	id, ok := t.ids[text]
	return id, ok
}

// TokenText returns the vocabulary text of id, or "" when out of range.
func (t *Tokenizer) TokenText(id int32) string {
	if id < 0 || int(id) >= len(t.v.Tokens) {
		return ""
	}
	return t.v.Tokens[id]
}

// Piece returns the bytes token id adds to the output (what Decode writes
// for it), or "" when out of range.
func (t *Tokenizer) Piece(id int32) string {
	if id < 0 || int(id) >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

// IsText reports whether id is an ordinary token of text (normal or a
// byte), as opposed to a control, user-defined, unused or unknown token.
func (t *Tokenizer) IsText(id int32) bool {
	if id < 0 || int(id) >= len(t.v.Tokens) {
		return false
	}
	if t.types == nil {
		return true
	}
	ty := t.types[id]
	return ty == TypeNormal || ty == TypeByte
}

// VocabSize returns the number of tokens.
func (t *Tokenizer) VocabSize() int { return len(t.v.Tokens) }

// BOS returns the beginning-of-sequence id, or -1.
func (t *Tokenizer) BOS() int32 { return t.v.BOS }

// EOS returns the end-of-sequence id, or -1.
func (t *Tokenizer) EOS() int32 { return t.v.EOS }

// specialMatcher finds special token texts in input, leftmost first and
// longest at a position, like Hugging Face's added-token split.
type specialMatcher struct {
	first [256]bool
	byB   [256][]special // candidates by first byte, longest first
}

type special struct {
	text    string
	id      int32
	control bool // matched only with parseSpecial
}

func newSpecialMatcher(texts []string, ids map[string]int32, types []int32) specialMatcher {
	var m specialMatcher
	sort.SliceStable(texts, func(i, j int) bool { return len(texts[i]) > len(texts[j]) })
	seen := make(map[string]bool, len(texts))
	for _, s := range texts {
		if seen[s] {
			continue
		}
		seen[s] = true
		id := ids[s]
		m.first[s[0]] = true
		m.byB[s[0]] = append(m.byB[s[0]], special{text: s, id: id, control: types[id] != TypeUserDefined})
	}
	return m
}

// next returns the byte range and id of the first special token in s, or
// pos -1.
func (m *specialMatcher) next(s string, parseSpecial bool) (pos, end int, id int32) {
	for i := 0; i < len(s); i++ {
		if !m.first[s[i]] {
			continue
		}
		for _, c := range m.byB[s[i]] {
			if (parseSpecial || !c.control) && strings.HasPrefix(s[i:], c.text) {
				return i, i + len(c.text), c.id
			}
		}
	}
	return -1, -1, -1
}

// wordCache memoises the ids of byte-level pieces. It is bounded: when full
// it is cleared, which keeps memory flat under adversarial input.
type wordCache struct {
	mu  sync.RWMutex
	m   map[string][]int32
	max int
}

func newWordCache(max int) *wordCache { return &wordCache{m: make(map[string][]int32), max: max} }

func (c *wordCache) get(k string) ([]int32, bool) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	return v, ok
}

func (c *wordCache) put(k string, ids []int32) {
	if len(k) > 256 {
		return // long pieces are rare and would bloat the cache
	}
	v := append([]int32(nil), ids...)
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[k] = v
	c.mu.Unlock()
}
