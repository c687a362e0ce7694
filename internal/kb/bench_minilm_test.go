package kb_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/provider"
)

// BenchmarkRetrieveMiniLM is Retrieve as a caller sees it: the query
// embedded by the real built-in all-MiniLM-L6-v2 (2 threads) and then
// searched, over the same synthetic knowledge base as BenchmarkRetrieve
// ($OUTCROP_KB_BENCH_CHUNKS, default 100,000, with the ANN index on). The
// stored vectors are synthetic, so the results mean nothing; the latency
// is what is measured: p50/p99 of 300 queries per search type, and of the
// query embedding alone. Needs the weights (scripts/fetch-models.sh); run
// it with -benchtime 1x and GOEXPERIMENT=simd, as the server is built.
func BenchmarkRetrieveMiniLM(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("OUTCROP_KB_BENCH_CHUNKS")); err == nil {
		n = v
	}
	s := newSynth(7, benchDim, max(1, n/100), false)
	lookup := &lookupEmbedder{}
	qs := s.queries(11, 300)
	lookup.add(qs)
	st, kbID := benchCorpus(b, s, n, lookup)
	defer st.Close()
	a := miniLM(b)
	ctx := context.Background()
	for b.Loop() {
		svc := kb.New(kb.Options{Store: st, Models: namedModels{a, "all-MiniLM-L6-v2", benchDim}})
		if _, err := svc.Retrieve(ctx, kb.Query{KBID: kbID, Text: qs[0].question, SearchType: kb.SearchSemantic}); err != nil {
			b.Fatal(err)
		}
		if err := svc.WaitIndex(ctx, kbID); err != nil {
			b.Fatal(err)
		}
		embed := make(latencies, len(qs))
		for i, q := range qs {
			start := time.Now()
			if _, err := a.Embed(ctx, &provider.EmbedRequest{Model: "all-MiniLM-L6-v2", Texts: []string{q.question}}); err != nil {
				b.Fatal(err)
			}
			embed[i] = time.Since(start)
		}
		b.ReportMetric(embed.pct(0.5), "embed_p50_ms")
		b.ReportMetric(embed.pct(0.99), "embed_p99_ms")
		for _, c := range []benchCase{{name: "semantic_question", search: kb.SearchSemantic, question: true}, {name: "hybrid_question", search: kb.SearchHybrid, question: true}} {
			_, lat := runQueries(b, svc, kbID, qs, c)
			b.ReportMetric(lat.pct(0.5), c.name+"_p50_ms")
			b.ReportMetric(lat.pct(0.99), c.name+"_p99_ms")
		}
		svc.Close()
	}
}
