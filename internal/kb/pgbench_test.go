package kb_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/store/postgres"
	"github.com/outcrop/outcrop/internal/testpg"
)

// BenchmarkRetrievePostgres measures Retrieve through the PostgreSQL
// store (kb.Searcher: exact scans below the ANN threshold, the HNSW index
// above it) next to the in-memory path over the same chunks, in the same
// run: a synthetic knowledge base of $OUTCROP_KB_BENCH_CHUNKS chunks
// (default 50,000) of 384-dimensional vectors, the latency percentiles of
// 300 queries per case (the query's embedding is a lookup), and recall@10
// of SEMANTIC results against the in-memory exact scan. The database is
// testpg's, or $OUTCROP_KB_BENCH_DSN's. Run it with -benchtime 1x; see
// docs/performance.md.
func BenchmarkRetrievePostgres(b *testing.B) {
	n := 50000
	if v, err := strconv.Atoi(os.Getenv("OUTCROP_KB_BENCH_CHUNKS")); err == nil {
		n = v
	}
	dsn := os.Getenv("OUTCROP_KB_BENCH_DSN")
	if dsn == "" {
		dsn = testpg.DSN(b)
	}
	ctx := context.Background()
	st, err := postgres.Open(ctx, postgres.Options{DSN: dsn})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s := newSynth(7, benchDim, max(1, n/100), false)
	emb := &lookupEmbedder{}
	qs := s.queries(11, 300)
	emb.add(qs)
	models := dimModels{emb, benchDim}
	pg := kb.New(kb.Options{Store: st, Models: models})
	defer pg.Close()
	start := time.Now()
	kbID := buildMetaCorpus(b, st, pg, s, n)
	load := time.Since(start)
	start = time.Now()
	if err := pg.WaitIndex(ctx, kbID); err != nil {
		b.Fatal(err)
	}
	b.Logf("wrote %d chunks in %v; HNSW index built in %v", n, load.Round(time.Second), time.Since(start).Round(time.Second))
	for b.Loop() {
		// The in-memory path over the same store, hidden behind a plain
		// kb.Store: exact, then with its IVF index (the default).
		exact := kb.New(kb.Options{Store: struct{ kb.Store }{st}, Models: models, ANNMinChunks: -1})
		ivf := kb.New(kb.Options{Store: struct{ kb.Store }{st}, Models: models})
		if err := ivf.WaitIndex(ctx, kbID); err != nil {
			b.Fatal(err)
		}
		for _, c := range benchCases {
			want, lat := runQueries(b, exact, kbID, qs, c)
			b.ReportMetric(lat.pct(0.5), "memory_exact_"+c.name+"_p50_ms")
			b.ReportMetric(lat.pct(0.99), "memory_exact_"+c.name+"_p99_ms")
			got, lat := runQueries(b, ivf, kbID, qs, c)
			b.ReportMetric(lat.pct(0.5), "memory_ivf_"+c.name+"_p50_ms")
			b.ReportMetric(lat.pct(0.99), "memory_ivf_"+c.name+"_p99_ms")
			if strings.HasPrefix(c.name, "semantic") {
				b.ReportMetric(recall(got, want), "memory_ivf_"+c.name+"_recall@10")
			}
			got, lat = runQueries(b, pg, kbID, qs, c)
			b.ReportMetric(lat.pct(0.5), "postgres_"+c.name+"_p50_ms")
			b.ReportMetric(lat.pct(0.99), "postgres_"+c.name+"_p99_ms")
			if strings.HasPrefix(c.name, "semantic") {
				b.ReportMetric(recall(got, want), "postgres_"+c.name+"_recall@10")
			}
		}
		exact.Close()
		ivf.Close()
	}
}
