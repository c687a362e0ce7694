package kb

import (
	"context"
	"fmt"
	"strings"

	"github.com/outcrop/outcrop/internal/kb/vector"
)

// Search types.
const (
	SearchHybrid   = "HYBRID"
	SearchSemantic = "SEMANTIC"
)

// Query is a retrieval request.
type Query struct {
	KBID       string
	Text       string
	N          int    // number of results, default 5
	SearchType string // HYBRID (default) or SEMANTIC
	Filter     *vector.Filter
}

// Result is one retrieved chunk.
type Result struct {
	Chunk
	Score float64
}

// slab is a knowledge base's chunks held in memory for the exact scan;
// the store stays the source of truth and writes drop the slab.
type slab struct {
	chunks []Chunk
	byID   map[int64]int
}

func (s *Service) invalidate(kbID string) {
	s.mu.Lock()
	delete(s.cache, kbID)
	s.mu.Unlock()
}

func (s *Service) load(ctx context.Context, kbID string) (*slab, error) {
	s.mu.Lock()
	sl := s.cache[kbID]
	s.mu.Unlock()
	if sl != nil {
		return sl, nil
	}
	chunks, err := s.opts.Store.KBChunks(ctx, kbID)
	if err != nil {
		return nil, err
	}
	sl = &slab{chunks: chunks, byID: make(map[int64]int, len(chunks))}
	for i, c := range chunks {
		sl.byID[c.ID] = i
	}
	s.mu.Lock()
	s.cache[kbID] = sl
	s.mu.Unlock()
	return sl, nil
}

// Retrieve returns the chunks that best answer q: exact cosine similarity
// over every chunk passing the filter and, for HYBRID, BM25 ranking fused
// with it by reciprocal rank fusion. A HIERARCHICAL child chunk that
// matches is returned as its parent chunk, and a parent only once (the
// best-scoring child's place), so fewer than N results may come back.
func (s *Service) Retrieve(ctx context.Context, q Query) ([]Result, error) {
	kb, err := s.opts.Store.KnowledgeBase(ctx, q.KBID)
	if err != nil {
		return nil, err
	}
	if q.N <= 0 {
		q.N = 5
	}
	if q.Filter != nil {
		if err := q.Filter.Validate(); err != nil {
			return nil, invalidf("The retrieval filter is not valid: %v.", err)
		}
	}
	if strings.TrimSpace(q.Text) == "" {
		return nil, invalidf("The retrieval query text must not be empty.")
	}
	vecs, err := s.embed(ctx, &kb, []string{q.Text}, "search_query")
	if err != nil {
		return nil, err
	}
	qv := vecs[0]
	sl, err := s.load(ctx, q.KBID)
	if err != nil {
		return nil, err
	}
	var sem []vector.Scored
	for _, c := range sl.chunks {
		if vector.Match(q.Filter, c.Meta) {
			sem = append(sem, vector.Scored{ID: c.ID, Score: float64(vector.Dot(qv, c.Vector))})
		}
	}
	pool := max(q.N*4, 50)
	sem = vector.TopK(sem, pool)
	hits := sem
	if q.SearchType != SearchSemantic {
		lex, err := s.opts.Store.SearchText(ctx, q.KBID, q.Text, 4*pool)
		if err != nil {
			return nil, err
		}
		kept := lex[:0]
		for _, h := range lex {
			if i, ok := sl.byID[h.ID]; ok && vector.Match(q.Filter, sl.chunks[i].Meta) {
				kept = append(kept, h)
			}
		}
		if len(kept) > pool {
			kept = kept[:pool]
		}
		hits = vector.Fuse([][]vector.Scored{sem, kept}, []float64{1, 1}, pool)
	}
	out := make([]Result, 0, q.N)
	parents := map[string]bool{}
	for _, h := range hits {
		i, ok := sl.byID[h.ID]
		if !ok {
			continue
		}
		c := sl.chunks[i]
		if p, ok := c.Meta[metaParentText].(string); ok {
			// A HIERARCHICAL child: return its parent, once.
			key := fmt.Sprintf("%s\x00%s\x00%v", c.DSID, c.DocID, c.Meta[metaParentSeq])
			if parents[key] {
				continue
			}
			parents[key] = true
			c.Text = p
			c.Meta = publicMeta(c.Meta)
		}
		out = append(out, Result{Chunk: c, Score: h.Score})
		if len(out) == q.N {
			break
		}
	}
	return out, nil
}

// publicMeta returns a copy of m without the keys Outcrop keeps for itself.
func publicMeta(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != metaParentText && k != metaParentSeq {
			out[k] = v
		}
	}
	return out
}
