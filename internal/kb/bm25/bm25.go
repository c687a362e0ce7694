// Package bm25 is an in-memory full-text index that ranks rows of text by
// Okapi BM25 the way SQLite FTS5's bm25() does (k1 = 1.2, b = 0.75, idf
// floored just above zero), over the terms FTS5's porter unicode61
// tokenizer would index. Any query term may match. The kb package keeps
// one per knowledge base next to its vectors, so a hybrid query ranks
// text without a round trip through SQLite; see docs/knowledge-bases.md.
package bm25

import (
	"math"
	"slices"
	"sync"
)

// BM25 parameters, as FTS5 sets them.
const (
	k1 = 1.2
	b  = 0.75
)

// Index maps terms to the rows that contain them. Rows are small dense
// integers chosen by the caller (a slab position), as in vector.IVF.
//
// An Index is not safe for concurrent use, except that any number of
// Search calls may run at once: the caller serializes Add and Remove
// against everything else (the kb package holds a read-write lock).
type Index struct {
	ids    map[string]int32 // term → term number
	lists  []postings       // term number → rows containing it
	freeID []int32          // term numbers whose list emptied
	words  []string         // term number → term
	lens   []int32          // row → 1 + its number of tokens; 0: not indexed
	rows   int              // rows indexed
	tokens int64            // tokens in the rows indexed

	buf     []byte           // tokenizer scratch for Add and Remove
	termBuf []int32          // the terms of the row being added or removed
	memo    map[string]int32 // during Build: token → term number
	seen    []uint32         // term number → the last Add that saw it (gen)
	count   []uint32         // term number → its count in that Add's row
	gen     uint32
	rowLen  int32 // tokens in that Add's row

	scratch sync.Pool // *scores, for Search
}

// postings lists the rows containing one term, in no particular order,
// with the term's count in each (tf, saturated at 255, where BM25's
// term-frequency factor is within 0.5% of its limit in a row of average
// length).
type postings struct {
	rows []int32
	tf   []uint8
}

// New returns an empty index.
func New() *Index { return &Index{ids: map[string]int32{}} }

// Build returns an index of n rows, row i holding text(i). It is faster
// than adding them one by one: it stems each distinct word once, and it
// collects every row's terms first so that each list is allocated once,
// at its final size.
func Build(n int, text func(row int32) string) *Index {
	x := New()
	x.memo = map[string]int32{}
	x.lens = make([]int32, n)
	// Each row's distinct terms and their counts, end to end.
	var terms []int32
	var tfs []uint8
	ends := make([]int, n)
	for i := range n {
		distinct := x.rowCounts(text(int32(i)))
		x.lens[i] = x.rowLen + 1
		x.rows++
		x.tokens += int64(x.rowLen)
		for _, t := range distinct {
			terms = append(terms, t)
			tfs = append(tfs, uint8(min(x.count[t], math.MaxUint8)))
		}
		ends[i] = len(terms)
	}
	x.memo = nil
	df := make([]int32, len(x.lists))
	for _, t := range terms {
		df[t]++
	}
	for t, d := range df {
		// Grow rounds the capacity up to the allocator's size class, so
		// Bytes counts what is allocated.
		x.lists[t] = postings{rows: slices.Grow([]int32(nil), int(d)), tf: slices.Grow([]uint8(nil), int(d))}
	}
	start := 0
	for i, end := range ends {
		for j := start; j < end; j++ {
			p := &x.lists[terms[j]]
			p.rows = append(p.rows, int32(i))
			p.tf = append(p.tf, tfs[j])
		}
		start = end
	}
	x.lists = slices.Clip(x.lists)
	x.words = slices.Clip(x.words)
	x.seen = slices.Clip(x.seen)
	x.count = slices.Clip(x.count)
	return x
}

// Add indexes text as row. The row must not be indexed already.
func (x *Index) Add(row int32, text string) {
	distinct := x.rowCounts(text)
	if int(row) >= len(x.lens) {
		x.lens = append(x.lens, make([]int32, int(row)+1-len(x.lens))...)
	}
	x.lens[row] = x.rowLen + 1
	x.rows++
	x.tokens += int64(x.rowLen)
	for _, t := range distinct {
		p := &x.lists[t]
		p.rows = append(p.rows, row)
		p.tf = append(p.tf, uint8(min(x.count[t], math.MaxUint8)))
	}
}

// rowCounts returns the distinct terms of text (adding new ones to the
// vocabulary), sets x.count of each to its number of occurrences and
// x.rowLen to the number of tokens. The slice is scratch space.
func (x *Index) rowCounts(text string) []int32 {
	x.gen++
	if x.gen == 0 { // wrapped: forget every mark
		clear(x.seen)
		x.gen = 1
	}
	distinct := x.termBuf[:0]
	n := int32(0)
	x.buf = tokens(text, x.buf, func(tok []byte) {
		t := x.term(tok, true)
		n++
		if x.seen[t] != x.gen {
			x.seen[t], x.count[t] = x.gen, 0
			distinct = append(distinct, t)
		}
		x.count[t]++
	})
	x.termBuf, x.rowLen = distinct, n
	return distinct
}

// Remove unindexes row, whose text must be what Add was given. Its cost
// is the total length of the lists of its terms, which for the commonest
// words is most of the index's rows.
func (x *Index) Remove(row int32, text string) {
	if int(row) >= len(x.lens) || x.lens[row] == 0 {
		return
	}
	x.rows--
	x.tokens -= int64(x.lens[row] - 1)
	x.lens[row] = 0
	terms := x.rowTerms(text)
	slices.Sort(terms)
	for _, t := range slices.Compact(terms) {
		if t < 0 {
			continue
		}
		p := &x.lists[t]
		if i := slices.Index(p.rows, row); i >= 0 {
			last := len(p.rows) - 1
			p.rows[i], p.tf[i] = p.rows[last], p.tf[last]
			p.rows, p.tf = p.rows[:last], p.tf[:last]
		}
		if len(p.rows) == 0 {
			delete(x.ids, x.words[t])
			x.lists[t], x.words[t] = postings{}, ""
			x.freeID = append(x.freeID, t)
		}
	}
}

// rowTerms returns the term numbers of text's tokens, in order, -1 for
// those not in the vocabulary. The slice is scratch space.
func (x *Index) rowTerms(text string) []int32 {
	terms := x.termBuf[:0]
	x.buf = tokens(text, x.buf, func(tok []byte) { terms = append(terms, x.term(tok, false)) })
	x.termBuf = terms
	return terms
}

// term returns the term number of a token, adding the term to the
// vocabulary if add is set (otherwise an unknown term is -1).
func (x *Index) term(tok []byte, add bool) int32 {
	if t, ok := x.memo[string(tok)]; ok {
		return t
	}
	var word string
	if x.memo != nil {
		word = string(tok)
	}
	tok = stem(tok)
	t, ok := x.ids[string(tok)]
	if !ok {
		if !add {
			return -1
		}
		if n := len(x.freeID); n > 0 {
			t, x.freeID = x.freeID[n-1], x.freeID[:n-1]
		} else {
			t = int32(len(x.lists))
			x.lists = append(x.lists, postings{})
			x.words = append(x.words, "")
			x.seen = append(x.seen, 0)
			x.count = append(x.count, 0)
		}
		w := string(tok)
		x.ids[w], x.words[t] = t, w
	}
	if x.memo != nil {
		x.memo[word] = t
	}
	return t
}

// Terms returns the terms of text, in order, as the index sees them.
func Terms(text string) []string {
	var out []string
	tokens(text, nil, func(tok []byte) { out = append(out, string(stem(tok))) })
	return out
}

// Len returns the number of rows indexed.
func (x *Index) Len() int { return x.rows }

// Vocabulary returns the number of distinct terms indexed.
func (x *Index) Vocabulary() int { return len(x.ids) }

// Bytes estimates the memory the index holds: the postings (5 bytes per
// row a term occurs in), the term strings and their map entries, and 4
// bytes per row for its length.
func (x *Index) Bytes() int {
	n := 4*cap(x.lens) + 48*cap(x.lists) + 16*cap(x.words) + 4*cap(x.seen) + 4*cap(x.count) + 4*cap(x.freeID)
	for _, p := range x.lists {
		n += 4*cap(p.rows) + cap(p.tf)
	}
	for _, w := range x.words {
		n += len(w) + 32 // the string, and its map entry (key, value, control byte, load factor)
	}
	return n
}

// Hit is one search result: a row and its BM25 score (higher is better).
type Hit struct {
	Row   int32
	Score float64
}

// scores is a Search's scratch space: a score per row and the rows that
// have one.
type scores struct {
	s       []float64
	touched []int32
	terms   []int32
	buf     []byte
}

// Search returns the k rows with the best BM25 scores for query among
// those that contain at least one of its terms and that accept allows
// (nil: every row), best first; ties go to the lower row. Each distinct
// query term counts once. The collection statistics (rows, average
// length, how many rows contain a term) are the whole index's, whatever
// accept says, as FTS5's are its table's.
func (x *Index) Search(query string, k int, accept []bool) []Hit {
	sc, _ := x.scratch.Get().(*scores)
	if sc == nil {
		sc = &scores{}
	}
	defer x.scratch.Put(sc)
	terms := sc.terms[:0]
	sc.buf = tokens(query, sc.buf, func(tok []byte) {
		if t, ok := x.ids[string(stem(tok))]; ok && !slices.Contains(terms, t) {
			terms = append(terms, t)
		}
	})
	sc.terms = terms
	if len(terms) == 0 || k <= 0 || x.rows == 0 {
		return nil
	}
	if len(sc.s) < len(x.lens) {
		sc.s = make([]float64, len(x.lens))
	}
	s, touched := sc.s, sc.touched[:0]
	n := float64(x.rows)
	avgdl := float64(x.tokens) / n
	for _, t := range terms {
		p := x.lists[t]
		hits := float64(len(p.rows))
		idf := math.Log((n - hits + 0.5) / (hits + 0.5))
		if idf <= 0 {
			idf = 1e-6
		}
		for i, r := range p.rows {
			if accept != nil && !accept[r] {
				continue
			}
			tf := float64(p.tf[i])
			if s[r] == 0 {
				touched = append(touched, r)
			}
			s[r] += idf * tf * (k1 + 1) / (tf + k1*(1-b+b*float64(x.lens[r]-1)/avgdl))
		}
	}
	top := make([]Hit, 0, min(k, len(touched)))
	for _, r := range touched {
		h := Hit{Row: r, Score: s[r]}
		s[r] = 0
		if len(top) < k {
			top = append(top, h)
			if len(top) == k {
				slices.SortFunc(top, cmpHits)
			}
			continue
		}
		if cmpHits(h, top[k-1]) >= 0 {
			continue
		}
		// Insert in order; k is small (the kb package asks for 50).
		i, _ := slices.BinarySearchFunc(top, h, cmpHits)
		copy(top[i+1:], top[i:k-1])
		top[i] = h
	}
	if len(top) < k {
		slices.SortFunc(top, cmpHits)
	}
	sc.touched = touched
	return top
}

// cmpHits orders hits best first: higher score, then lower row.
func cmpHits(a, b Hit) int {
	switch {
	case a.Score > b.Score:
		return -1
	case a.Score < b.Score:
		return 1
	}
	return int(a.Row - b.Row)
}
