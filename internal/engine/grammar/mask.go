package grammar

import (
	"math"
	"slices"
)

// Vocab is a byte trie over a tokenizer's ordinary tokens (the bytes each
// contributes to the output), built once per model and shared by every
// constrained generation. Walking it with a recognizer state visits each
// shared prefix once and prunes a subtree at its first refused byte.
//
// Inside a string almost every token may come next, so the trie walk would
// visit the whole vocabulary: there, the tokens that are plain string
// content (no quote, backslash or control byte, so a string stays a string
// through them) are allowed from a precomputed set, and only the others
// are walked, in a trie of their own.
type Vocab struct {
	n     int     // vocabulary size
	eog   []int32 // end-of-generation tokens
	all   trie    // every ordinary token
	other trie    // the ordinary tokens that are not plain string content
	plain []bool  // by id: plain string content
}

type trie struct {
	nodes []node    // nodes[0] is the root
	edges []edge    // children of node i: edges[nodes[i].e0:nodes[i].e1]
	ids   [][]int32 // tokens that end at node i (several pieces may be equal)
}

type node struct{ e0, e1 int32 }

type edge struct {
	b     byte
	child int32
}

// NewVocab builds the trie. pieces[id] is token id's bytes; only tokens
// with text[id] set (ordinary text, not control tokens) are included. eog
// lists the tokens that end generation.
func NewVocab(pieces []string, text []bool, eog []int32) *Vocab {
	v := &Vocab{n: len(pieces), eog: slices.Clone(eog), plain: make([]bool, len(pieces))}
	other := make([]bool, len(pieces))
	for id, p := range pieces {
		if !text[id] || p == "" {
			continue
		}
		v.plain[id] = isPlain(p)
		other[id] = !v.plain[id]
	}
	v.all = buildTrie(pieces, text)
	v.other = buildTrie(pieces, other)
	return v
}

// isPlain reports whether p may sit inside a JSON string as it is.
func isPlain(p string) bool {
	for i := 0; i < len(p); i++ {
		if b := p[i]; b < 0x20 || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}

// buildTrie inserts the pieces with use set into a map-based trie, then
// flattens it into sorted edge arrays.
func buildTrie(pieces []string, use []bool) trie {
	type tnode struct {
		kids map[byte]int
		ids  []int32
	}
	tree := []tnode{{kids: map[byte]int{}}}
	for id, p := range pieces {
		if !use[id] || p == "" {
			continue
		}
		cur := 0
		for i := 0; i < len(p); i++ {
			nx, ok := tree[cur].kids[p[i]]
			if !ok {
				nx = len(tree)
				tree[cur].kids[p[i]] = nx
				tree = append(tree, tnode{kids: map[byte]int{}})
			}
			cur = nx
		}
		tree[cur].ids = append(tree[cur].ids, int32(id))
	}
	t := trie{nodes: make([]node, len(tree)), ids: make([][]int32, len(tree))}
	for i, tn := range tree {
		t.nodes[i].e0 = int32(len(t.edges))
		bs := make([]byte, 0, len(tn.kids))
		for b := range tn.kids {
			bs = append(bs, b)
		}
		slices.Sort(bs)
		for _, b := range bs {
			t.edges = append(t.edges, edge{b: b, child: int32(tn.kids[b])})
		}
		t.nodes[i].e1 = int32(len(t.edges))
		t.ids[i] = tn.ids
	}
	return t
}

// Constraint restricts one generation to JSON, or to JSON that follows a
// schema. It is not safe for concurrent use.
type Constraint struct {
	v       *Vocab
	state   State
	allowed []bool // scratch, by token id
	pieces  func(int32) string
}

// JSON returns a constraint for one generation; piece gives a token's
// bytes (the same pieces the Vocab was built from).
func (v *Vocab) JSON(objectOnly bool, piece func(int32) string) *Constraint {
	return v.Schema(nil, objectOnly, piece)
}

// Schema returns a constraint for one generation whose output must be a
// JSON text that sc accepts (an object with objectOnly); a nil sc is plain
// JSON.
func (v *Vocab) Schema(sc *Schema, objectOnly bool, piece func(int32) string) *Constraint {
	return &Constraint{v: v, state: NewState(sc, objectOnly), allowed: make([]bool, v.n), pieces: piece}
}

// Complete reports whether the output so far is a whole JSON text.
func (c *Constraint) Complete() bool { return c.state.Complete() }

// Mask sets the logit of every token that may not come next to -Inf:
// tokens whose bytes would break the JSON text, and end of generation
// until the text is complete. Once it is, only end of generation remains.
func (c *Constraint) Mask(logits []float32) {
	if c.state.Complete() {
		for i := range logits {
			logits[i] = float32(math.Inf(-1))
		}
		for _, id := range c.v.eog {
			if int(id) < len(logits) {
				logits[id] = 0
			}
		}
		return
	}
	t := &c.v.all
	if c.state.plainString() {
		copy(c.allowed, c.v.plain)
		t = &c.v.other
	}
	c.walk(t, 0, c.state)
	for i := range logits {
		if i < len(c.allowed) && c.allowed[i] {
			c.allowed[i] = false
			continue
		}
		logits[i] = float32(math.Inf(-1))
	}
}

// walk marks the tokens of t below node n whose bytes st accepts.
func (c *Constraint) walk(t *trie, n int32, st State) {
	nd := t.nodes[n]
	for _, e := range t.edges[nd.e0:nd.e1] {
		s := st
		if !s.Step(e.b) {
			continue
		}
		for _, id := range t.ids[e.child] {
			c.allowed[id] = true
		}
		c.walk(t, e.child, s)
	}
}

// Accept advances past a sampled token. It reports false if the token's
// bytes break the JSON text (a token Mask did not allow).
func (c *Constraint) Accept(id int32) bool {
	if slices.Contains(c.v.eog, id) {
		return c.state.Complete()
	}
	p := c.pieces(id)
	for i := 0; i < len(p); i++ {
		if !c.state.Step(p[i]) {
			return false
		}
	}
	return true
}
