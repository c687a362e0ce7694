package postgres

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/kb/vector"
	"github.com/outcrop/outcrop/internal/testpg"
)

// recount returns kb_terms and kb_text_stats next to the same figures
// computed from kb_chunks, as "kb lexeme count" lines.
func recount(t *testing.T, s *Store) (got, want []string) {
	t.Helper()
	ctx := context.Background()
	read := func(sql string) []string {
		rows, err := s.pool.Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var k, l string
			var n int64
			if err := rows.Scan(&k, &l, &n); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %s %d", k, l, n))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got = read(`SELECT kb_id, lexeme, chunks FROM kb_terms UNION ALL
		SELECT kb_id, '#chunks', chunks FROM kb_text_stats UNION ALL SELECT kb_id, '#words', words FROM kb_text_stats ORDER BY 1, 2`)
	want = read(`SELECT kb_id, u.lexeme, count(*) FROM kb_chunks, unnest(tsv) u GROUP BY 1, 2 UNION ALL
		SELECT kb_id, '#chunks', count(*) FROM kb_chunks GROUP BY 1 UNION ALL
		SELECT kb_id, '#words', sum(array_length(regexp_split_to_array(text, ' '), 1)) FROM kb_chunks GROUP BY 1 ORDER BY 1, 2`)
	return got, want
}

// TestTextStats checks that the triggers keep kb_terms and kb_text_stats
// equal to a recount of kb_chunks through every write: documents written
// concurrently into one knowledge base (which must not deadlock),
// replaced, deleted, and chunks deleted by cascade with their data source
// and knowledge base.
func TestTextStats(t *testing.T) {
	s := open(t, Options{})
	ctx := context.Background()
	check := func(when string) {
		t.Helper()
		got, want := recount(t, s)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("after %s, kb_terms and kb_text_stats differ from kb_chunks (-want +got):\n%s", when, diff)
		}
	}
	var kbs []string
	for range 2 {
		k := kb.KnowledgeBase{ID: kb.NewID(), Name: "kb", Dimensions: 4, Created: time.Now()}
		if err := s.PutKnowledgeBase(ctx, k); err != nil {
			t.Fatal(err)
		}
		for _, ds := range []string{"A", "B"} {
			if err := s.PutDataSource(ctx, kb.DataSource{KBID: k.ID, ID: ds, Name: ds, Type: kb.TypeCustom}); err != nil {
				t.Fatal(err)
			}
		}
		kbs = append(kbs, k.ID)
	}
	write := func(kbID, ds string, d, version int) error {
		var chunks []kb.Chunk
		for i := range 5 {
			text := fmt.Sprintf("the shared words run running ran %s doc%d v%d chunk%d word%d word%d", ds, d, version, i, (d+i)%7, (d*i)%11)
			chunks = append(chunks, kb.Chunk{Seq: i, Text: text, Vector: []float32{1, 0, 0, 0}, Meta: map[string]any{}})
		}
		doc := kb.Document{KBID: kbID, DSID: ds, ID: fmt.Sprintf("doc%d", d), Type: kb.TypeCustom, Status: kb.DocIndexed}
		return s.ReplaceDocument(ctx, doc, chunks, true, nil)
	}
	// Two writers per data source of each knowledge base, all at once.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for _, kbID := range kbs {
		for _, ds := range []string{"A", "B"} {
			for w := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for d := w; d < 20; d += 2 {
						if err := write(kbID, ds, d, 1); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent writes: %v", err)
	}
	check("concurrent writes")
	for d := range 5 {
		if err := write(kbs[0], "A", d, 2); err != nil {
			t.Fatal(err)
		}
	}
	check("replacing documents")
	for d := 5; d < 10; d++ {
		if err := s.DeleteDocument(ctx, kbs[0], "A", fmt.Sprintf("doc%d", d), nil); err != nil {
			t.Fatal(err)
		}
	}
	check("deleting documents")
	if err := s.DeleteDataSource(ctx, kbs[0], "B"); err != nil {
		t.Fatal(err)
	}
	check("deleting a data source")
	if err := s.DeleteKnowledgeBase(ctx, kbs[1]); err != nil {
		t.Fatal(err)
	}
	check("deleting a knowledge base")
	if err := s.DeleteKnowledgeBase(ctx, kbs[0]); err != nil {
		t.Fatal(err)
	}
	if got, _ := recount(t, s); len(got) != 0 {
		t.Errorf("after deleting every knowledge base, the statistics hold %q", got)
	}
}

// textCorpus writes chunks whose words have known frequencies: "common"
// in every chunk, "half" in every other, "tenth" in every tenth, "rare<i>"
// in chunks i, i+40, … and "one<i>" in chunk i alone, some twice, with
// filler words so that lengths differ. Every word is its own lexeme.
func textCorpus(t *testing.T, s *Store, n int) (string, []string) {
	t.Helper()
	ctx := context.Background()
	k := kb.KnowledgeBase{ID: kb.NewID(), Name: "kb", Dimensions: 4, Created: time.Now()}
	if err := s.PutKnowledgeBase(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDataSource(ctx, kb.DataSource{KBID: k.ID, ID: "DS", Name: "ds", Type: kb.TypeCustom}); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for d := 0; d*10 < n; d++ {
		var chunks []kb.Chunk
		for i := d * 10; i < min(n, d*10+10); i++ {
			w := []string{"common", fmt.Sprintf("rare%d", i%40), fmt.Sprintf("one%d", i)}
			if i%2 == 0 {
				w = append(w, "half")
			}
			if i%10 == 0 {
				w = append(w, "tenth")
			}
			if i%3 == 0 {
				w = append(w, fmt.Sprintf("rare%d", i%40), "common")
			}
			for j := range i % 9 {
				w = append(w, fmt.Sprintf("filler%d", j))
			}
			texts = append(texts, strings.Join(w, " "))
			chunks = append(chunks, kb.Chunk{Seq: i - d*10, Text: texts[i], Vector: []float32{1, 0, 0, 0}, Meta: map[string]any{"odd": i%2 == 1}})
		}
		doc := kb.Document{KBID: k.ID, DSID: "DS", ID: fmt.Sprintf("doc%04d", d), Type: kb.TypeCustom, Status: kb.DocIndexed}
		if err := s.ReplaceDocument(ctx, doc, chunks, true, nil); err != nil {
			t.Fatal(err)
		}
	}
	return k.ID, texts
}

// bm25 ranks texts for query as MatchingChunks should: FTS5's formula,
// a chunk's length being its number of words.
func bm25(texts []string, query string, accept func(int) bool) []string {
	df := map[string]float64{}
	var total float64
	tfs := make([]map[string]float64, len(texts))
	lens := make([]float64, len(texts))
	for i, tx := range texts {
		tfs[i] = map[string]float64{}
		for _, w := range strings.Fields(tx) {
			tfs[i][w]++
			lens[i]++
		}
		for w := range tfs[i] {
			df[w]++
		}
		total += lens[i]
	}
	n := float64(len(texts))
	avgdl := total / n
	type hit struct {
		i     int
		score float64
	}
	var hits []hit
	for i, tf := range tfs {
		if !accept(i) {
			continue
		}
		var score float64
		matched := false
		for _, w := range strings.Fields(query) {
			if tf[w] == 0 {
				continue
			}
			matched = true
			idf := math.Log((n - df[w] + 0.5) / (df[w] + 0.5))
			if idf <= 0 {
				idf = 1e-6
			}
			score += idf * tf[w] * (bm25K1 + 1) / (tf[w] + bm25K1*(1-bm25B+bm25B*lens[i]/avgdl))
		}
		if matched {
			hits = append(hits, hit{i, score})
		}
	}
	sort.SliceStable(hits, func(a, b int) bool { return hits[a].score > hits[b].score })
	var out []string
	for _, h := range hits {
		out = append(out, fmt.Sprintf("%s %.9f", texts[h.i], h.score))
	}
	return out
}

// TestMatchingChunksBM25 checks the text ranking's scores against BM25
// computed here, exhaustively (TextCandidates < 0) and with candidates
// brought in by the rarest words, including the cases where those bring
// in too few and the next words join, and queries of common words only
// (the chunks holding all of the rarest first).
func TestMatchingChunksBM25(t *testing.T) {
	dsn := testpg.DSN(t)
	bounded := open(t, Options{DSN: dsn, TextCandidates: 30})
	exhaustive := open(t, Options{DSN: dsn, TextCandidates: -1})
	kbID, texts := textCorpus(t, bounded, 400)
	ctx := context.Background()
	everything := func(int) bool { return true }
	odd := func(i int) bool { return i%2 == 1 }
	for _, c := range []struct {
		name   string
		query  string
		k      int
		odd    bool
		topped bool // the bounded ranking's k best are the exact k best
	}{
		{"rare word among common ones", "common half rare7 tenth", 5, false, true},
		{"one chunk's word", "Common one123 HALF!", 3, false, true},
		{"rare words bring in too few", "common tenth rare3", 25, false, true},
		{"common words only", "common half", 10, false, false},
		{"common words only, their conjunction", "half tenth", 5, false, true},
		{"conjunction and filter leave none", "half tenth", 5, true, true},
		{"filter leaves too few", "common rare4 half", 8, true, true},
		{"no such word", "nothing", 10, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			accept, filter := everything, (*vector.Filter)(nil)
			if c.odd {
				accept, filter = odd, f("equals", "odd", true)
			}
			want := bm25(texts, strings.ToLower(strings.Trim(strings.ReplaceAll(c.query, "!", ""), " ")), accept)
			for _, st := range []struct {
				name string
				s    *Store
			}{{"exhaustive", exhaustive}, {"bounded", bounded}} {
				res, err := st.s.MatchingChunks(ctx, kbID, c.query, c.k, filter)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, r := range res {
					got = append(got, fmt.Sprintf("%s %.9f", r.Text, r.Score))
				}
				w := want[:min(c.k, len(want))]
				if st.s == bounded && !c.topped {
					if len(got) != len(w) {
						t.Errorf("%s: %d results, want %d", st.name, len(got), len(w))
					}
					continue
				}
				if diff := cmp.Diff(w, got); diff != "" {
					t.Errorf("%s MatchingChunks(%q, %d) (-want +got):\n%s", st.name, c.query, c.k, diff)
				}
			}
		})
	}
}

// TestTermCounts reads tsvectorsend's output for lexemes with and
// without positions and weights, and with a quote.
func TestTermCounts(t *testing.T) {
	s := open(t, Options{})
	var b []byte
	if err := s.pool.QueryRow(context.Background(), `SELECT tsvectorsend($1::tsvector)`,
		`a:1 'it''s':2,7B,9 nopos back\\slash:3A,12C`).Scan(&b); err != nil {
		t.Fatal(err)
	}
	rank := map[string]int{"a": 1, "it's": 2, "nopos": 3, `back\slash`: 4, "absent": 5}
	got, words, err := termCounts(b, rank, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := map[int]float64{}
	for _, c := range got {
		m[c.term] = c.tf
	}
	want := map[int]float64{1: 1, 2: 3, 3: 1, 4: 2}
	if diff := cmp.Diff(want, m); diff != "" || words != 12 {
		t.Errorf("termCounts: words %d, want 12; term → count (-want +got):\n%s", words, diff)
	}
	if _, _, err := termCounts(b[:len(b)-1], rank, nil); err == nil {
		t.Errorf("termCounts of a truncated tsvector: no error")
	}
}

// scoringQueries counts the scoring queries (those reading tsvectorsend)
// sent through a pool it traces.
type scoringQueries struct{ n atomic.Int64 }

func (c *scoringQueries) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, "tsvectorsend(tsv)") {
		c.n.Add(1)
	}
	return ctx
}

func (c *scoringQueries) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestMatchingChunksWidening checks the widening past the rarest words
// when too few candidates pass: the ranking is the one of adding a lexeme
// at a time until k pass (computed here), including where a query's
// added lexemes bring in more than that, and a search makes O(log
// lexemes) scoring queries, counted with a pgx tracer, even when its
// filter passes fewer than k chunks and every lexeme must join.
func TestMatchingChunksWidening(t *testing.T) {
	dsn := testpg.DSN(t)
	const budget = 10
	s := open(t, Options{DSN: dsn, TextCandidates: budget})
	ctx := context.Background()
	queries := &scoringQueries{}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = queries
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.pool.Close()
	s.pool = pool // closed by s.Close
	kbID, texts := textCorpus(t, s, 400)
	holds := make([]map[string]bool, len(texts))
	df := map[string]int{}
	for i, tx := range texts {
		holds[i] = map[string]bool{}
		for _, w := range strings.Fields(tx) {
			if !holds[i][w] {
				holds[i][w] = true
				df[w]++
			}
		}
	}
	// oneAtATime returns the chunks that widening a lexeme at a time
	// ranks, and how many scoring queries it takes: the rarest lexemes
	// within budget, then one more a query until k chunks pass.
	oneAtATime := func(query string, k int, accept func(int) bool) (func(int) bool, int) {
		terms := strings.Fields(query) // each its own lexeme, all in the corpus
		sort.Slice(terms, func(a, b int) bool {
			if df[terms[a]] != df[terms[b]] {
				return df[terms[a]] < df[terms[b]]
			}
			return terms[a] < terms[b]
		})
		r, sum := 1, df[terms[0]]
		for r < len(terms) && sum+df[terms[r]] <= budget {
			sum += df[terms[r]]
			r++
		}
		in := func(i int) bool {
			if !accept(i) {
				return false
			}
			for _, w := range terms[:r] {
				if holds[i][w] {
					return true
				}
			}
			return false
		}
		for n := 1; ; n++ {
			passing := 0
			for i := range texts {
				if in(i) {
					passing++
				}
			}
			if passing >= k || r == len(terms) {
				return in, n
			}
			r++
		}
	}
	var many []string // 100 lexemes in even chunks, two in odd ones, two common
	for i := 0; i < 200; i += 2 {
		many = append(many, fmt.Sprintf("one%d", i))
	}
	many = append(many, "one1", "one3", "half", "tenth")
	for _, c := range []struct {
		name  string
		query string
		k     int
		odd   bool
	}{
		// rare1 and rare3 bring in 20, the next query rare5 and rare7 40:
		// rare7's chunks are not ranked, one at a time stopping at rare5.
		{"widening overshoots", "rare1 rare3 rare5 rare7 rare9", 25, false},
		{"widening overshoots under a filter", "rare1 rare2 rare3 rare5 rare7 rare9", 15, true},
		{"widening reaches every lexeme", "rare2 rare4 rare1", 15, true},
		{"many lexemes, filter passing fewer than k", strings.Join(many, " "), 5, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			accept, filter := func(int) bool { return true }, (*vector.Filter)(nil)
			if c.odd {
				accept, filter = func(i int) bool { return i%2 == 1 }, f("equals", "odd", true)
			}
			in, before := oneAtATime(c.query, c.k, accept)
			want := bm25(texts, c.query, in)
			want = want[:min(c.k, len(want))]
			queries.n.Store(0)
			res, err := s.MatchingChunks(ctx, kbID, c.query, c.k, filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range res {
				got = append(got, fmt.Sprintf("%s %.9f", r.Text, r.Score))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("MatchingChunks(%q, %d) (-want +got):\n%s", c.query, c.k, diff)
			}
			lexemes := len(strings.Fields(c.query))
			if n, most := queries.n.Load(), int64(2+bits.Len(uint(lexemes))); n > most {
				t.Errorf("MatchingChunks(%q, %d): %d scoring queries for %d lexemes, want at most %d (a lexeme at a time: %d)",
					c.query, c.k, n, lexemes, most, before)
			}
		})
	}
}
