package kb

import (
	"context"
	"math"
	"sync"

	"github.com/outcrop/outcrop/internal/kb/bm25"
	"github.com/outcrop/outcrop/internal/kb/vector"
)

// DefaultANNMinChunks is the size from which a knowledge base gets an IVF
// index (see docs/performance.md, "Knowledge base retrieval", for the
// measurements behind it): below it the exact scan costs under about
// 3 ms, which an index would not beat by enough to pay for its recall.
const DefaultANNMinChunks = 20000

// annProbeFraction is the share of IVF lists a query scans (at least
// annMinProbe lists); measured to give recall@10 ≥ 0.98 on clustered
// 384-dimensional vectors (docs/performance.md).
const (
	annProbeFraction = 1.0 / 12
	annMinProbe      = 8
)

// annSettings are the ANN parameters of a Service.
type annSettings struct {
	minChunks int // 0: never
}

// slab is a knowledge base's chunks held in memory for search, their
// BM25 text index, and their ANN index once it is large enough. The store
// stays the source of truth: a slab is loaded from it on first use and
// kept in step by refreshDoc after each committed write, which replaces
// one document's rows with what the store then holds; deleting a data
// source or knowledge base drops the whole slab. mu guards everything below it: searches hold it
// for reading, loads and updates for writing.
//
// The index is trained in the background (see startBuild): until it is
// ready, searches scan exactly. While a build runs, touched collects the
// rows that writes change, which the build replays before installing.
type slab struct {
	mu      sync.RWMutex
	loaded  bool
	rows    []Chunk // row → chunk; ID 0 marks a free row
	free    []int32
	byID    map[int64]int32
	byDoc   map[string][]int32 // docKey → rows
	live    int
	text    *bm25.Index // every live row, by its chunk's text
	ivf     *vector.IVF
	built   chan struct{}  // closed when the running build ends; nil when none runs
	touched map[int32]bool // rows changed since the running build's snapshot
}

func docKey(dsID, docID string) string { return dsID + "\x00" + docID }

func (s *Service) invalidate(kbID string) {
	s.mu.Lock()
	delete(s.cache, kbID)
	s.mu.Unlock()
}

// slab returns the knowledge base's slab, loading it from the store on
// first use.
func (s *Service) slab(ctx context.Context, kbID string) (*slab, error) {
	s.mu.Lock()
	sl := s.cache[kbID]
	if sl == nil {
		sl = &slab{}
		s.cache[kbID] = sl
	}
	s.mu.Unlock()
	sl.mu.RLock()
	loaded := sl.loaded
	sl.mu.RUnlock()
	if loaded {
		return sl, nil
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.loaded {
		return sl, nil
	}
	chunks, err := s.opts.Store.KBChunks(ctx, kbID)
	if err != nil {
		return nil, err
	}
	sl.rows = chunks
	sl.byID = make(map[int64]int32, len(chunks))
	sl.byDoc = map[string][]int32{}
	for i, c := range chunks {
		sl.byID[c.ID] = int32(i)
		k := docKey(c.DSID, c.DocID)
		sl.byDoc[k] = append(sl.byDoc[k], int32(i))
	}
	sl.text = bm25.Build(len(chunks), func(r int32) string { return chunks[r].Text })
	sl.live = len(chunks)
	sl.loaded = true
	s.reindex(sl)
	return sl, nil
}

// refreshDoc brings a loaded slab in step with the store after a write to
// one document: its rows are replaced by the chunks the store now holds
// (none after a delete), and the ANN index follows. Holding the slab's
// lock while reading the store orders concurrent refreshes, so the last
// one applies the latest committed state. If the store cannot be read,
// the slab is dropped and reloaded on next use.
func (s *Service) refreshDoc(ctx context.Context, kbID, dsID, docID string) {
	s.mu.Lock()
	sl := s.cache[kbID]
	s.mu.Unlock()
	if sl == nil {
		return
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if !sl.loaded {
		return // it will load the committed state
	}
	chunks, err := s.opts.Store.DocumentChunks(context.WithoutCancel(ctx), kbID, dsID, docID)
	if err != nil {
		s.opts.Logger.Warn("dropping the search cache of a knowledge base", "knowledge_base", kbID, "err", err)
		s.invalidate(kbID)
		return
	}
	key := docKey(dsID, docID)
	for _, r := range sl.byDoc[key] {
		if sl.ivf != nil {
			sl.ivf.Remove(r)
		}
		if sl.touched != nil {
			sl.touched[r] = true
		}
		sl.text.Remove(r, sl.rows[r].Text)
		delete(sl.byID, sl.rows[r].ID)
		sl.rows[r] = Chunk{}
		sl.free = append(sl.free, r)
		sl.live--
	}
	delete(sl.byDoc, key)
	for _, c := range chunks {
		var r int32
		if n := len(sl.free); n > 0 {
			r, sl.free = sl.free[n-1], sl.free[:n-1]
			sl.rows[r] = c
		} else {
			r = int32(len(sl.rows))
			sl.rows = append(sl.rows, c)
		}
		sl.byID[c.ID] = r
		sl.byDoc[key] = append(sl.byDoc[key], r)
		sl.live++
		sl.text.Add(r, c.Text)
		if sl.ivf != nil {
			sl.ivf.Add(r, c.Vector)
		}
		if sl.touched != nil {
			sl.touched[r] = true
		}
	}
	s.reindex(sl)
}

// reindex starts building the ANN index when the slab has reached the
// threshold without one or its index has gone stale, and drops the index
// when the slab has shrunk well below the threshold. sl.mu must be held
// for writing.
func (s *Service) reindex(sl *slab) {
	if sl.ivf != nil && (s.ann.minChunks <= 0 || 2*sl.live < s.ann.minChunks) {
		sl.ivf = nil
	}
	if sl.built != nil || s.ann.minChunks <= 0 {
		return
	}
	if (sl.ivf == nil && sl.live >= s.ann.minChunks) || (sl.ivf != nil && sl.ivf.Stale()) {
		s.startBuild(sl)
	}
}

// startBuild trains a new index in the background from a snapshot of the
// rows' vectors (the vectors themselves are never modified, only
// replaced, so the snapshot shares them). Searches keep using the old
// index, or the exact scan, meanwhile. On completion the build replays
// the rows that writes touched since the snapshot and installs the index.
// The goroutine belongs to the Service: Close cancels and waits for it.
// sl.mu must be held for writing.
func (s *Service) startBuild(sl *slab) {
	snap := make([][]float32, len(sl.rows))
	rows := make([]int32, 0, sl.live)
	dim := 0
	for i, c := range sl.rows {
		if c.ID != 0 {
			snap[i] = c.Vector
			rows = append(rows, int32(i))
			dim = len(c.Vector)
		}
	}
	done := make(chan struct{})
	sl.built, sl.touched = done, map[int32]bool{}
	s.wg.Go(func() {
		defer close(done)
		x, err := vector.BuildIVF(s.ctx, dim, int(math.Round(math.Sqrt(float64(len(rows))))), rows,
			func(r int32) []float32 { return snap[r] })
		sl.mu.Lock()
		defer sl.mu.Unlock()
		touched := sl.touched
		sl.built, sl.touched = nil, nil
		if err != nil {
			return // the Service is closing
		}
		for r := range touched {
			x.Remove(r)
			if int(r) < len(sl.rows) && sl.rows[r].ID != 0 {
				x.Add(r, sl.rows[r].Vector)
			}
		}
		if s.ann.minChunks > 0 && 2*sl.live >= s.ann.minChunks {
			sl.ivf = x
		}
	})
}

// waitIndex waits for a running index build of the knowledge base.
func (s *Service) waitIndex(ctx context.Context, kbID string) error {
	s.mu.Lock()
	sl := s.cache[kbID]
	s.mu.Unlock()
	if sl == nil {
		return nil
	}
	sl.mu.RLock()
	done := sl.built
	sl.mu.RUnlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WaitIndex loads a knowledge base's chunks if they are not in memory and
// waits until any index build it started has finished, so that the next
// search uses the index. Searches never need to call it: they scan
// exactly until the index is ready.
func (s *Service) WaitIndex(ctx context.Context, kbID string) error {
	if sr, ok := s.opts.Store.(Searcher); ok {
		// The store searches: nothing is held in memory, but the store
		// may have an index of its own to wait for.
		if w, ok := sr.(interface {
			WaitIndex(ctx context.Context, kbID string) error
		}); ok {
			return w.WaitIndex(ctx, kbID)
		}
		return nil
	}
	if _, err := s.slab(ctx, kbID); err != nil {
		return err
	}
	return s.waitIndex(ctx, kbID)
}

func (sl *slab) vec(r int32) []float32 { return sl.rows[r].Vector }

// search returns the pool best chunks for a query among those passing
// the filter f, best first: by cosine similarity to the unit vector qv
// and, when hybrid is set, that ranking fused with the BM25 ranking of
// text by reciprocal rank fusion. The filter is evaluated once, on every
// chunk, for both rankings.
func (sl *slab) search(qv []float32, text string, pool int, f *vector.Filter, hybrid bool, ann annSettings) []vector.Scored {
	accept, matched := sl.filter(f)
	sem := sl.nearest(qv, pool, accept, matched, ann)
	if !hybrid {
		return sem
	}
	return vector.Fuse([][]vector.Scored{sem, sl.matching(text, pool, accept)}, []float64{1, 1}, pool)
}

// filter returns which rows pass f (nil: all live rows do, f being nil)
// and how many do.
func (sl *slab) filter(f *vector.Filter) ([]bool, int) {
	if f == nil {
		return nil, sl.live
	}
	accept := make([]bool, len(sl.rows))
	matched := 0
	for i, c := range sl.rows {
		if c.ID != 0 && vector.Match(f, c.Meta) {
			accept[i] = true
			matched++
		}
	}
	return accept, matched
}

// nearest returns the best chunks for the unit vector qv among the
// matched rows that accept allows (nil: every live row), best first, at
// most k. Without an index it scans exactly. With one, an unfiltered
// query probes the nearest lists; a filtered query, when fewer rows pass
// than the index threshold, scans those exactly (a selective filter gets
// exact results), otherwise probes proportionally more lists, skipping
// rows the filter rejects. Either way only rows passing the filter are
// returned.
func (sl *slab) nearest(qv []float32, k int, accept []bool, matched int, ann annSettings) []vector.Scored {
	var hits []vector.Hit
	if sl.ivf == nil || matched < ann.minChunks {
		top := vector.NewTop(k)
		for i, c := range sl.rows {
			if c.ID != 0 && (accept == nil || accept[i]) {
				top.Push(int32(i), vector.Dot(qv, c.Vector))
			}
		}
		hits = top.Sorted()
	} else {
		probe := max(annMinProbe, int(math.Ceil(float64(sl.ivf.Lists())*annProbeFraction)))
		var ok func(int32) bool
		if accept != nil {
			probe = int(math.Ceil(float64(probe) * float64(sl.live) / float64(matched)))
			ok = func(r int32) bool { return accept[r] }
		}
		hits, _ = sl.ivf.Search(qv, k, probe, sl.vec, ok)
	}
	out := make([]vector.Scored, len(hits))
	for i, h := range hits {
		out[i] = vector.Scored{ID: sl.rows[h.Row].ID, Score: float64(h.Score)}
	}
	return out
}

// matching returns the k chunks with the best BM25 scores for the words
// of text among the rows that accept allows (nil: every live row), best
// first.
func (sl *slab) matching(text string, k int, accept []bool) []vector.Scored {
	hits := sl.text.Search(text, k, accept)
	out := make([]vector.Scored, len(hits))
	for i, h := range hits {
		out[i] = vector.Scored{ID: sl.rows[h.Row].ID, Score: h.Score}
	}
	return out
}

// IndexStats describes a knowledge base's search cache.
type IndexStats struct {
	Loaded     bool // the chunks are in memory
	Chunks     int  // chunks in memory
	ANN        bool // an ANN index is built
	Indexed    int  // chunks in the index
	Lists      int  // the index's IVF lists
	IndexBytes int  // memory held by the index beyond the chunks themselves
	TextTerms  int  // distinct terms in the BM25 text index
	TextBytes  int  // memory held by the text index
}

// IndexStats reports the search cache of a knowledge base without
// loading it.
func (s *Service) IndexStats(kbID string) IndexStats {
	s.mu.Lock()
	sl := s.cache[kbID]
	s.mu.Unlock()
	if sl == nil {
		return IndexStats{}
	}
	sl.mu.RLock()
	defer sl.mu.RUnlock()
	st := IndexStats{Loaded: sl.loaded, Chunks: sl.live}
	if sl.text != nil {
		st.TextTerms, st.TextBytes = sl.text.Vocabulary(), sl.text.Bytes()
	}
	if sl.ivf != nil {
		st.ANN, st.Indexed, st.Lists, st.IndexBytes = true, sl.ivf.Len(), sl.ivf.Lists(), sl.ivf.Bytes()
	}
	return st
}
