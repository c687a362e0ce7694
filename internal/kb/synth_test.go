package kb_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/outcrop/outcrop/internal/kb/vector"
	"github.com/outcrop/outcrop/internal/provider"
)

// synth generates a deterministic synthetic corpus that behaves roughly
// like text embeddings: unit vectors scattered around topic centres (a
// chunk's cosine to its centre is about 0.7, to another chunk of its topic
// about 0.5), and text whose words come partly from its topic's own words,
// so BM25 and the vectors agree about topics as they do on real text.
type synth struct {
	dim     int
	centres [][]float32
	words   [][]string // per topic
	common  []string
	iid     bool // no topics: iid Gaussian directions (the worst case for ANN)
}

func newSynth(seed uint64, dim, topics int, iid bool) *synth {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &synth{dim: dim, iid: iid}
	for t := range topics {
		c := make([]float32, dim)
		for i := range c {
			c[i] = float32(rng.NormFloat64())
		}
		vector.Normalize(c)
		s.centres = append(s.centres, c)
		var ws []string
		for w := range 12 {
			ws = append(ws, fmt.Sprintf("t%dw%d", t, w))
		}
		s.words = append(s.words, ws)
	}
	for w := range 3000 {
		s.common = append(s.common, fmt.Sprintf("c%d", w))
	}
	return s
}

// vec returns a unit vector near topic t.
func (s *synth) vec(rng *rand.Rand, t int) []float32 {
	v := make([]float32, s.dim)
	scale := 1 / math.Sqrt(float64(s.dim))
	for i := range v {
		v[i] = float32(rng.NormFloat64() * scale)
		if !s.iid {
			v[i] += s.centres[t][i]
		}
	}
	vector.Normalize(v)
	return v
}

// text returns n words: a third from topic t, the rest common words with
// a Zipf-like skew.
func (s *synth) text(rng *rand.Rand, t, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		if rng.IntN(3) == 0 {
			b.WriteString(s.words[t][rng.IntN(len(s.words[t]))])
		} else {
			f := rng.Float64()
			b.WriteString(s.common[int(f*f*float64(len(s.common)))])
		}
	}
	return b.String()
}

// query is a search text with the vector its embedder returns.
// question is the same query worded as people ask, with common words
// around its topic words; it embeds to the same vector.
type query struct {
	text     string
	question string
	common   string // only common words, the question's kind without its topic words
	vec      []float32
}

func (s *synth) queries(seed uint64, n int) []query {
	rng := rand.New(rand.NewPCG(seed, 2))
	crng := rand.New(rand.NewPCG(seed, 3)) // apart, so the queries stay as they were
	orng := rand.New(rand.NewPCG(seed, 4))
	out := make([]query, n)
	for i := range out {
		t := rng.IntN(len(s.centres))
		w1, w2 := s.words[t][rng.IntN(12)], s.words[t][rng.IntN(12)]
		out[i] = query{text: fmt.Sprintf("%s %s q%d", w1, w2, i), vec: s.vec(rng, t)}
		// Three of the 20 commonest words, each in 7–52% of the chunks,
		// as "how", "is" and "the" are in English text.
		c := func() string { return s.common[crng.IntN(20)] }
		out[i].question = fmt.Sprintf("%s %s %s %s %s q%d", c(), c(), w1, c(), w2, i)
		o := func() string { return s.common[orng.IntN(20)] }
		out[i].common = fmt.Sprintf("%s %s %s q%d", o(), o(), o(), i)
	}
	return out
}

// lookupEmbedder returns the vector registered for each query text.
type lookupEmbedder struct {
	mu   sync.Mutex
	vecs map[string][]float32
	dim  int
}

func (e *lookupEmbedder) add(qs []query) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.vecs == nil {
		e.vecs = map[string][]float32{}
	}
	for _, q := range qs {
		e.vecs[q.text] = q.vec
		if q.question != "" {
			e.vecs[q.question] = q.vec
		}
		if q.common != "" {
			e.vecs[q.common] = q.vec
		}
	}
}

func (e *lookupEmbedder) Embed(ctx context.Context, r *provider.EmbedRequest) (*provider.EmbedResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := &provider.EmbedResponse{}
	for _, t := range r.Texts {
		v, ok := e.vecs[t]
		if !ok {
			return nil, fmt.Errorf("no vector for %q", t)
		}
		out.Vectors = append(out.Vectors, append([]float32(nil), v...))
	}
	return out, nil
}

type dimModels struct {
	e   provider.Embedder
	dim int
}

func (m dimModels) Embedder(arn string) (provider.Embedder, string, int, error) {
	if !strings.Contains(arn, "embed") {
		return nil, "", 0, errors.New("not an embedding model")
	}
	return m.e, "synthetic", m.dim, nil
}
func (m dimModels) Chat(string) (provider.Adapter, string, error) {
	return nil, "", errors.New("no chat")
}
