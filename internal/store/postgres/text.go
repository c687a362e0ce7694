package postgres

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"

	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/kb/vector"
)

// DefaultTextCandidates is the default of Options.TextCandidates. At
// 100,000 chunks a word in 1% of them already brings in 1,000; scoring a
// candidate costs about 2 µs in the database and in Go, reading its row
// from the table most of the rest.
const DefaultTextCandidates = 2000

// BM25 parameters, as in FTS5's bm25() and package kb/bm25.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// queryTerm is a lexeme of the query with the number of the knowledge
// base's chunks holding it and its BM25 idf.
type queryTerm struct {
	lexeme string
	chunks int64
	idf    float64
}

// queryWords splits free text into words as store/sqlite's FTS5 query
// does (letters and digits, lower-cased), each once, so no character of
// the query is read as an operator.
func queryWords(q string) []string {
	words := strings.FieldsFunc(strings.ToLower(q), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	seen := map[string]bool{}
	var out []string
	for _, w := range words {
		if !seen[w] && len(w) < 2048 { // longer words are not indexed
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// MatchingChunks implements kb.Searcher: chunks passing the filter that
// hold any word of query, ranked by BM25 as FTS5 computes it (k1 1.2, b
// 0.75, idf floored just above 0), over the english configuration's
// lexemes, with the knowledge base's own statistics (kb_terms and
// kb_text_stats, kept by triggers), and a chunk's number of words as its
// length.
//
// Ranking every chunk that holds a common word would read most of the
// table (a question's "how", "is", "the", or any word in a large share
// of the chunks), so candidates come in through the query's rarest words
// first: the lexemes, in order of the chunks holding them, while those
// counts add up to no more than s.text (at least the rarest). The other
// lexemes add to the candidates' scores but bring in none: a chunk that
// holds only common words is ranked only when the rare words bring in
// fewer than k chunks passing the filter, in which case the next lexemes
// join in turn (the ranking is that of adding one at a time until k pass,
// though each query adds twice as many as the last: see oneAtATime).
// When even the rarest lexeme is in more than s.text chunks, candidates
// are first the chunks holding all of the rarest lexemes, as
// many of them as make the expected count at most s.text (falling back as
// above if fewer than k pass). With s.text negative, every lexeme brings
// candidates in.
func (s *Store) MatchingChunks(ctx context.Context, kbID, query string, k int, f *vector.Filter) ([]kb.Result, error) {
	words := queryWords(query)
	if len(words) == 0 || k <= 0 {
		return nil, nil
	}
	terms, n, avgdl, err := s.queryTerms(ctx, kbID, words)
	if err != nil || len(terms) == 0 {
		return nil, err
	}
	rank := make(map[string]int, len(terms)) // lexeme → its index in terms
	lexemes := make([]string, len(terms))
	for i, t := range terms {
		rank[t.lexeme] = i
		lexemes[i] = t.lexeme
	}
	var hits []scoredChunk
	if s.text >= 0 && terms[0].chunks > int64(s.text) && len(terms) > 1 {
		// Every lexeme is common: the chunks holding all of the rarest
		// ones, as many as it takes to expect (by their shares of the
		// chunks) no more than s.text such chunks, score highest unless
		// one lexeme repeats a lot in a short chunk.
		all, expect := 1, float64(terms[0].chunks)
		for all < len(terms) && expect > float64(s.text) {
			expect *= float64(terms[all].chunks) / float64(n)
			all++
		}
		if hits, err = s.scoreCandidates(ctx, kbID, tsQueryText(lexemes[:all], " & "), terms, rank, avgdl, f); err != nil {
			return nil, fmt.Errorf("text search: %w", err)
		}
	}
	if len(hits) < k {
		// recruit is how many lexemes bring candidates in.
		recruit := len(terms)
		if s.text >= 0 {
			recruit = 1
			for sum := terms[0].chunks; recruit < len(terms) && sum+terms[recruit].chunks <= int64(s.text); recruit++ {
				sum += terms[recruit].chunks
			}
		}
		// Each widening adds twice as many lexemes as the last (1, 2, 4,
		// …), so a search whose filter passes fewer than k chunks makes
		// O(log terms) queries, not one per lexeme, and oneAtATime drops
		// what the last query brought in beyond adding one at a time.
		first := recruit
		for add := 1; ; add *= 2 {
			if hits, err = s.scoreCandidates(ctx, kbID, tsQueryText(lexemes[:recruit], " | "), terms, rank, avgdl, f); err != nil {
				return nil, fmt.Errorf("text search: %w", err)
			}
			if len(hits) >= k {
				hits = oneAtATime(hits, k, first)
				break
			}
			if recruit == len(terms) {
				break
			}
			recruit = min(recruit+add, len(terms))
		}
	}
	slices.SortFunc(hits, func(a, b scoredChunk) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	hits = hits[:min(k, len(hits))]
	return s.readChunks(ctx, hits)
}

// queryTerms returns the lexemes of words with their chunk counts and idf
// in the knowledge base, rarest first (lexemes no chunk holds are left
// out), its chunk count and its average chunk length in words.
func (s *Store) queryTerms(ctx context.Context, kbID string, words []string) ([]queryTerm, int64, float64, error) {
	rows, err := s.pool.Query(ctx, `SELECT q.lexeme, t.chunks, s.chunks, s.words
		FROM (SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', $2))) q
		JOIN kb_terms t ON t.kb_id = $1 AND t.lexeme = q.lexeme
		JOIN kb_text_stats s ON s.kb_id = $1`, custom, kbID, strings.Join(words, " "))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("text search: %w", err)
	}
	defer rows.Close()
	var terms []queryTerm
	var n, total int64
	for rows.Next() {
		var t queryTerm
		if err := rows.Scan(&t.lexeme, &t.chunks, &n, &total); err != nil {
			return nil, 0, 0, fmt.Errorf("text search: %w", err)
		}
		terms = append(terms, t)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, fmt.Errorf("text search: %w", err)
	}
	if n <= 0 {
		return nil, 0, 0, nil
	}
	for i, t := range terms {
		idf := math.Log((float64(n) - float64(t.chunks) + 0.5) / (float64(t.chunks) + 0.5))
		if idf <= 0 {
			idf = 1e-6
		}
		terms[i].idf = idf
	}
	slices.SortFunc(terms, func(a, b queryTerm) int {
		if c := cmp.Compare(a.chunks, b.chunks); c != 0 {
			return c
		}
		return cmp.Compare(a.lexeme, b.lexeme)
	})
	return terms, n, float64(total) / float64(n), nil
}

// oneAtATime returns the candidates that widening a lexeme at a time from
// the first recruited would have ranked. hits came in through some number
// of the rarest lexemes and are at least k; adding one at a time would
// have stopped at the first count r ≥ first of lexemes bringing in k, so
// the chunks whose rarest lexeme is the r-th or later are dropped.
func oneAtATime(hits []scoredChunk, k, first int) []scoredChunk {
	ranks := make([]int, len(hits))
	for i, h := range hits {
		ranks[i] = h.rarest
	}
	slices.Sort(ranks)
	r := max(ranks[k-1]+1, first)
	return slices.DeleteFunc(hits, func(h scoredChunk) bool { return h.rarest >= r })
}

// scoredChunk is a candidate of a text search with its BM25 score and the
// index in the query's terms of the rarest of them it holds.
type scoredChunk struct {
	id     int64
	score  float64
	rarest int
}

// termCount is how many times a chunk holds the query term terms[term].
type termCount struct {
	term int
	tf   float64
}

// scoreCandidates scores the chunks passing f that match the tsquery
// candidates by BM25 over terms (rank maps each lexeme to its index in
// terms). The database sends each candidate's tsv in binary
// (tsvectorsend), and the scores are computed here: in SQL, the per-chunk
// arithmetic over positions costs several times more.
func (s *Store) scoreCandidates(ctx context.Context, kbID, candidates string, terms []queryTerm, rank map[string]int, avgdl float64, f *vector.Filter) ([]scoredChunk, error) {
	args := []any{kbID, candidates}
	where := filterSQL(f, &args)
	rows, err := s.pool.Query(ctx, `SELECT id, tsvectorsend(tsv) FROM kb_chunks WHERE kb_id = $1 AND tsv @@ $2::tsquery AND `+where,
		append([]any{custom}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []scoredChunk
	var tfs []termCount
	for rows.Next() {
		c := scoredChunk{rarest: len(terms)}
		var tv []byte
		if err := rows.Scan(&c.id, &tv); err != nil {
			return nil, err
		}
		var words int
		tfs, words, err = termCounts(tv, rank, tfs[:0])
		if err != nil {
			return nil, err
		}
		norm := bm25K1 * (1 - bm25B + bm25B*float64(words)/avgdl)
		for _, t := range tfs {
			c.score += terms[t.term].idf * t.tf * (bm25K1 + 1) / (t.tf + norm)
			c.rarest = min(c.rarest, t.term)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

var errBadTSVector = errors.New("malformed tsvector from tsvectorsend")

// termCounts reads a tsvector's binary form (tsvectorsend: the lexeme
// count as a big-endian int32, then per lexeme its text, a NUL, its
// position count as a uint16 and the positions, 14 bits each under 2 bits
// of weight) and appends to out, for each lexeme in rank, its index there
// and its position count. It also returns the chunk's length in words:
// its last position, as the migration's kb_chunk_words computes it.
func termCounts(b []byte, rank map[string]int, out []termCount) ([]termCount, int, error) {
	if len(b) < 4 {
		return nil, 0, errBadTSVector
	}
	n := int(binary.BigEndian.Uint32(b))
	b = b[4:]
	words := 0
	for range n {
		end := bytes.IndexByte(b, 0)
		if end < 0 || len(b) < end+3 {
			return nil, 0, errBadTSVector
		}
		lexeme := b[:end]
		npos := int(binary.BigEndian.Uint16(b[end+1:]))
		b = b[end+3:]
		if len(b) < 2*npos {
			return nil, 0, errBadTSVector
		}
		for i := range npos {
			words = max(words, int(binary.BigEndian.Uint16(b[2*i:])&0x3fff))
		}
		b = b[2*npos:]
		if i, ok := rank[string(lexeme)]; ok {
			out = append(out, termCount{i, float64(max(npos, 1))}) // a lexeme without positions occurs once
		}
	}
	return out, words, nil
}

// readChunks returns the chunks of hits, in order, with their scores.
func (s *Store) readChunks(ctx context.Context, hits []scoredChunk) ([]kb.Result, error) {
	if len(hits) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(hits))
	at := make(map[int64]int, len(hits))
	for i, h := range hits {
		ids[i] = h.id
		at[h.id] = i
	}
	rows, err := s.pool.Query(ctx, `SELECT id, kb_id, ds_id, doc_id, seq, text, metadata::text FROM kb_chunks WHERE id = ANY($1)`, custom, ids)
	if err != nil {
		return nil, fmt.Errorf("text search: %w", err)
	}
	defer rows.Close()
	out := make([]kb.Result, len(hits))
	found := 0
	for rows.Next() {
		var r kb.Result
		var meta string
		if err := rows.Scan(&r.ID, &r.KBID, &r.DSID, &r.DocID, &r.Seq, &r.Text, &meta); err != nil {
			return nil, fmt.Errorf("text search: %w", err)
		}
		r.Meta = kb.UnmarshalMeta([]byte(meta))
		i := at[r.ID]
		r.Score = hits[i].score
		out[i] = r
		found++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("text search: %w", err)
	}
	if found < len(out) {
		// A chunk deleted between the two queries: drop its place.
		out = slices.DeleteFunc(out, func(r kb.Result) bool { return r.ID == 0 })
	}
	return out, nil
}

// tsQueryText joins lexemes with op (" | " or " & ") into a tsquery's
// text; the cast takes them as they are, without normalizing them again.
func tsQueryText(lexemes []string, op string) string {
	var b strings.Builder
	for i, l := range lexemes {
		if i > 0 {
			b.WriteString(op)
		}
		b.WriteByte('\'')
		for _, r := range l {
			if r == '\'' || r == '\\' {
				b.WriteRune(r)
			}
			b.WriteRune(r)
		}
		b.WriteByte('\'')
	}
	return b.String()
}
