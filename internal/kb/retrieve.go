package kb

import (
	"context"
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
	// Rerank, when set, reranks the results with a reranker model
	// (rerank.go).
	Rerank *Reranking
}

// Result is one retrieved chunk.
type Result struct {
	Chunk
	Score float64
}

// Retrieve returns the chunks that best answer q: cosine similarity over
// the chunks passing the filter (exact, or through the knowledge base's
// ANN index when it has one; see slab.search) and, for HYBRID, BM25 ranking
// (the slab's in-memory text index) fused with it by reciprocal rank
// fusion. A HIERARCHICAL child chunk that matches is returned as its
// parent chunk, and a parent only once (the best-scoring child's place),
// so fewer than N results may come back.
func (s *Service) Retrieve(ctx context.Context, q Query) ([]Result, error) {
	if q.Rerank != nil {
		return s.retrieveReranked(ctx, q)
	}
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
	pool := max(q.N*4, 50)
	if sr, ok := s.opts.Store.(Searcher); ok {
		return s.searchStore(ctx, sr, q, qv, pool)
	}
	sl, err := s.slab(ctx, q.KBID)
	if err != nil {
		return nil, err
	}
	sl.mu.RLock()
	defer sl.mu.RUnlock()
	hits := sl.search(qv, q.Text, pool, q.Filter, q.SearchType != SearchSemantic, s.ann)
	return pick(hits, func(id int64) (Chunk, bool) {
		r, ok := sl.byID[id]
		if !ok {
			return Chunk{}, false
		}
		return sl.rows[r], true
	}, q.N), nil
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
