package kb

import (
	"context"
	"fmt"

	"github.com/outcrop/outcrop/internal/kb/vector"
)

// Searcher is implemented by a Store that searches knowledge bases itself
// (store/postgres), for scale-out: replicas sharing one database cannot
// each keep the chunks in memory in step with the others' writes. When
// the Store is a Searcher, Retrieve asks it for the vector and text
// rankings instead of searching the in-memory slab; the fusion of the two
// rankings and HIERARCHICAL parent substitution stay here.
//
// Both methods return only chunks passing f (nil: every chunk), with the
// filter's semantics exactly as vector.Match defines them. Results carry
// everything but the vector.
type Searcher interface {
	// NearestChunks returns the k chunks of a knowledge base most similar
	// to the unit vector q, best first (ties to the lower ID), scored by
	// cosine similarity as vector.Dot computes it on the stored (unit)
	// vectors. It must be exact whenever the in-memory search is: when
	// fewer chunks pass f than the ANN threshold.
	NearestChunks(ctx context.Context, kbID string, q []float32, k int, f *vector.Filter) ([]Result, error)
	// MatchingChunks ranks the chunks passing f by full-text relevance to
	// the words of query (any word may match), best first, at most k.
	MatchingChunks(ctx context.Context, kbID, query string, k int, f *vector.Filter) ([]Result, error)
}

// searchStore is Retrieve through a Searcher: the vector ranking and, for
// HYBRID, the text ranking, each of pool chunks passing the filter, fused
// by reciprocal rank fusion as the in-memory path fuses them.
func (s *Service) searchStore(ctx context.Context, sr Searcher, q Query, qv []float32, pool int) ([]Result, error) {
	sem, err := sr.NearestChunks(ctx, q.KBID, qv, pool, q.Filter)
	if err != nil {
		return nil, err
	}
	chunks := make(map[int64]Chunk, 2*len(sem))
	hits := make([]vector.Scored, len(sem))
	for i, r := range sem {
		chunks[r.ID] = r.Chunk
		hits[i] = vector.Scored{ID: r.ID, Score: r.Score}
	}
	if q.SearchType != SearchSemantic {
		lex, err := sr.MatchingChunks(ctx, q.KBID, q.Text, pool, q.Filter)
		if err != nil {
			return nil, err
		}
		lh := make([]vector.Scored, len(lex))
		for i, r := range lex {
			chunks[r.ID] = r.Chunk
			lh[i] = vector.Scored{ID: r.ID, Score: r.Score}
		}
		hits = vector.Fuse([][]vector.Scored{hits, lh}, []float64{1, 1}, pool)
	}
	return pick(hits, func(id int64) (Chunk, bool) {
		c, ok := chunks[id]
		return c, ok
	}, q.N), nil
}

// pick turns ranked hits into at most n results. A HIERARCHICAL child
// chunk is returned as its parent chunk, once, at its best child's place.
func pick(hits []vector.Scored, chunk func(id int64) (Chunk, bool), n int) []Result {
	out := make([]Result, 0, n)
	parents := map[string]bool{}
	for _, h := range hits {
		c, ok := chunk(h.ID)
		if !ok {
			continue
		}
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
		if len(out) == n {
			break
		}
	}
	return out
}
