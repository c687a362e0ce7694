package kb_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/kb/vector"
	"github.com/outcrop/outcrop/internal/store/postgres"
	"github.com/outcrop/outcrop/internal/testpg"
)

// BenchmarkRetrievePostgres measures Retrieve through the PostgreSQL
// store (kb.Searcher: exact scans below the ANN threshold, the HNSW index
// above it) next to the in-memory path over the same chunks, in the same
// run: a synthetic knowledge base of $OUTCROP_KB_BENCH_CHUNKS chunks
// (default 50,000) of 384-dimensional vectors, the latency percentiles of
// 300 queries per case (the query's embedding is a lookup), and recall@10
// against the in-memory exact search (for HYBRID, whose text ranking is
// BM25 in memory: how far the store's results agree with it). The store's
// text search runs three ways: as configured (candidates through the
// rarest words), exhaustive (TextCandidates < 0) and, as "tsrank", the
// ts_rank_cd ranking of every matching chunk it replaced. The database is
// testpg's, or $OUTCROP_KB_BENCH_DSN's; there, $OUTCROP_KB_BENCH_KB names
// a knowledge base an earlier run wrote (it logs the ID) to query instead
// of writing one. $OUTCROP_KB_BENCH_CASES picks cases. Run it with
// -benchtime 1x; see docs/performance.md.
func BenchmarkRetrievePostgres(b *testing.B) {
	n := 50000
	if v, err := strconv.Atoi(os.Getenv("OUTCROP_KB_BENCH_CHUNKS")); err == nil {
		n = v
	}
	dsn := os.Getenv("OUTCROP_KB_BENCH_DSN")
	kbID := ""
	if dsn == "" {
		dsn = testpg.DSN(b)
	} else {
		kbID = os.Getenv("OUTCROP_KB_BENCH_KB")
	}
	ctx := context.Background()
	st, err := postgres.Open(ctx, postgres.Options{DSN: dsn})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	exhaustive, err := postgres.Open(ctx, postgres.Options{DSN: dsn, TextCandidates: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer exhaustive.Close()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	s := newSynth(7, benchDim, max(1, n/100), false)
	emb := &lookupEmbedder{}
	qs := s.queries(11, 300)
	emb.add(qs)
	models := dimModels{emb, benchDim}
	pg := kb.New(kb.Options{Store: st, Models: models})
	defer pg.Close()
	if kbID == "" {
		start := time.Now()
		kbID = buildMetaCorpus(b, st, pg, s, n)
		b.Logf("wrote %d chunks into knowledge base %s in %v", n, kbID, time.Since(start).Round(time.Second))
	}
	start := time.Now()
	if err := pg.WaitIndex(ctx, kbID); err != nil {
		b.Fatal(err)
	}
	b.Logf("HNSW index ready in %v", time.Since(start).Round(time.Second))
	pgExhaustive := kb.New(kb.Options{Store: exhaustive, Models: models})
	defer pgExhaustive.Close()
	pgTSRank := kb.New(kb.Options{Store: tsRankStore{st, pool}, Models: models})
	defer pgTSRank.Close()
	for b.Loop() {
		// The in-memory path over the same store, hidden behind a plain
		// kb.Store: exact, then with its IVF index (the default).
		exact := kb.New(kb.Options{Store: struct{ kb.Store }{st}, Models: models, ANNMinChunks: -1})
		ivf := kb.New(kb.Options{Store: struct{ kb.Store }{st}, Models: models})
		if err := ivf.WaitIndex(ctx, kbID); err != nil {
			b.Fatal(err)
		}
		for _, c := range selectedCases(b) {
			want, lat := runQueries(b, exact, kbID, qs, c)
			b.ReportMetric(lat.pct(0.5), "memory_exact_"+c.name+"_p50_ms")
			b.ReportMetric(lat.pct(0.99), "memory_exact_"+c.name+"_p99_ms")
			got, lat := runQueries(b, ivf, kbID, qs, c)
			b.ReportMetric(lat.pct(0.5), "memory_ivf_"+c.name+"_p50_ms")
			b.ReportMetric(lat.pct(0.99), "memory_ivf_"+c.name+"_p99_ms")
			b.ReportMetric(recall(got, want), "memory_ivf_"+c.name+"_recall@10")
			names, svcs := []string{"postgres_"}, []*kb.Service{pg}
			if c.search == kb.SearchHybrid {
				names, svcs = append(names, "postgres_exhaustive_", "postgres_tsrank_"), append(svcs, pgExhaustive, pgTSRank)
			}
			for i, svc := range svcs {
				got, lat = runQueries(b, svc, kbID, qs, c)
				b.ReportMetric(lat.pct(0.5), names[i]+c.name+"_p50_ms")
				b.ReportMetric(lat.pct(0.99), names[i]+c.name+"_p99_ms")
				b.ReportMetric(recall(got, want), names[i]+c.name+"_recall@10")
			}
		}
		exact.Close()
		ivf.Close()
	}
}

// tsRankStore is the PostgreSQL store with the text search it had before
// BM25: every chunk holding any query word ranked by ts_rank_cd. It
// translates no filters but the benchmark's (none, or one equals).
type tsRankStore struct {
	*postgres.Store
	pool *pgxpool.Pool
}

func (s tsRankStore) MatchingChunks(ctx context.Context, kbID, query string, k int, f *vector.Filter) ([]kb.Result, error) {
	words := strings.FieldsFunc(strings.ToLower(query), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	seen := map[string]bool{}
	var terms []string
	for _, w := range words {
		if !seen[w] {
			seen[w] = true
			terms = append(terms, "'"+w+"'")
		}
	}
	if len(terms) == 0 || k <= 0 {
		return nil, nil
	}
	where, args := "TRUE", []any{pgx.QueryExecModeDescribeExec, kbID, strings.Join(terms, " | "), k}
	if f != nil {
		if f.Op != "equals" {
			return nil, fmt.Errorf("tsRankStore: filter %q", f.Op)
		}
		m, _ := json.Marshal(map[string]any{f.Key: f.Value})
		where, args = "metadata @> $3::jsonb", append(args[:3], string(m), k)
	}
	rows, err := s.pool.Query(ctx, `SELECT c.id, c.kb_id, c.ds_id, c.doc_id, c.seq, c.text, c.metadata::text, r.score
		FROM (SELECT id, ts_rank_cd(tsv, q)::float8 AS score FROM kb_chunks, to_tsquery('english', $2) q
			WHERE kb_id = $1 AND tsv @@ q AND `+where+`
			ORDER BY score DESC, id LIMIT $`+strconv.Itoa(len(args)-1)+`) r
		JOIN kb_chunks c ON c.id = r.id ORDER BY r.score DESC, r.id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []kb.Result
	for rows.Next() {
		var r kb.Result
		var meta string
		if err := rows.Scan(&r.ID, &r.KBID, &r.DSID, &r.DocID, &r.Seq, &r.Text, &meta, &r.Score); err != nil {
			return nil, err
		}
		r.Meta = kb.UnmarshalMeta([]byte(meta))
		out = append(out, r)
	}
	return out, rows.Err()
}
