package kb_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/kb/vector"
	"github.com/outcrop/outcrop/internal/store/sqlite"
)

const benchDim = 384

// corpus metadata: lang alternates (a filter passing half the chunks),
// cat cycles through 20 values (one in 20), year through 25.
func corpusMeta(i int) map[string]any {
	return map[string]any{"lang": []string{"en", "fr"}[i%2], "cat": fmt.Sprintf("cat%d", i%20), "year": float64(2000 + i%25)}
}

// buildCorpus writes n synthetic chunks (10 per document) into a new
// knowledge base through the store, as ingestion would, and returns its ID.
func buildCorpus(t testing.TB, st *sqlite.Store, svc *kb.Service, s *synth, n int) string {
	ctx := context.Background()
	k, err := svc.CreateKnowledgeBase(ctx, kb.KnowledgeBase{Name: "bench", RoleARN: "arn:aws:iam::000000000000:role/x",
		EmbeddingModelARN: "arn:aws:bedrock:us-east-1::foundation-model/test.embed"})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := svc.CreateDataSource(ctx, kb.DataSource{KBID: k.ID, Name: "synthetic", Type: kb.TypeCustom})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(n), 3))
	const perDoc = 10
	for d := 0; d*perDoc < n; d++ {
		doc := kb.Document{KBID: k.ID, DSID: ds.ID, ID: fmt.Sprintf("doc%06d", d), Type: kb.TypeCustom, Status: kb.DocIndexed, Updated: time.Now().UTC()}
		var chunks []kb.Chunk
		for i := d * perDoc; i < min(n, (d+1)*perDoc); i++ {
			t := rng.IntN(len(s.centres))
			chunks = append(chunks, kb.Chunk{Seq: i - d*perDoc, Text: s.text(rng, t, 60), Vector: s.vec(rng, t), Meta: corpusMeta(i)})
		}
		if err := st.ReplaceDocument(ctx, doc, chunks, true, nil); err != nil {
			t.Fatal(err)
		}
	}
	return k.ID
}

// benchCorpus opens (building it the first time) a cached corpus of n
// chunks in $TMPDIR, so repeated runs skip the build.
func benchCorpus(b *testing.B, s *synth, n int, emb *lookupEmbedder) (*sqlite.Store, string) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("outcrop-kb-bench-%d-v1", n))
	idFile := filepath.Join(dir, "kbid")
	if id, err := os.ReadFile(idFile); err == nil {
		st, err := sqlite.Open(context.Background(), filepath.Join(dir, "db"))
		if err != nil {
			b.Fatal(err)
		}
		return st, string(id)
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "db"))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	svc := kb.New(kb.Options{Store: st, Models: dimModels{emb, benchDim}})
	id := buildCorpus(b, st, svc, s, n)
	svc.Close()
	b.Logf("built a corpus of %d chunks in %v (cached in %s)", n, time.Since(start).Round(time.Second), dir)
	if err := os.WriteFile(idFile, []byte(id), 0o644); err != nil {
		b.Fatal(err)
	}
	return st, id
}

func heapMiB() float64 {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

func rssMiB() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kib, _ := strconv.ParseFloat(f[1], 64)
			return kib / 1024
		}
	}
	return 0
}

type latencies []time.Duration

func (l latencies) pct(p float64) float64 {
	s := append(latencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := min(len(s)-1, int(p*float64(len(s))))
	return float64(s[i].Microseconds()) / 1000
}

// benchCase is one kind of query: its search type and filter, and
// whether the query text is worded as a question (with common words) or
// made of common words only.
type benchCase struct {
	name     string
	search   string
	filter   *vector.Filter
	question bool
	common   bool
}

var benchCases = []benchCase{
	{"semantic", kb.SearchSemantic, nil, false, false},
	{"hybrid", kb.SearchHybrid, nil, false, false},
	{"hybrid_question", kb.SearchHybrid, nil, true, false},
	{"semantic_filter50", kb.SearchSemantic, &vector.Filter{Op: "equals", Key: "lang", Value: "en"}, false, false},
	{"semantic_filter5", kb.SearchSemantic, &vector.Filter{Op: "equals", Key: "cat", Value: "cat7"}, false, false},
	{"hybrid_filter5", kb.SearchHybrid, &vector.Filter{Op: "equals", Key: "cat", Value: "cat7"}, false, false},
	{"hybrid_question_filter50", kb.SearchHybrid, &vector.Filter{Op: "equals", Key: "lang", Value: "en"}, true, false},
	{"hybrid_common", kb.SearchHybrid, nil, false, true},
}

// selectedCases returns the cases named in $OUTCROP_KB_BENCH_CASES
// (comma-separated; unset: all).
func selectedCases(b *testing.B) []benchCase {
	v := os.Getenv("OUTCROP_KB_BENCH_CASES")
	if v == "" {
		return benchCases
	}
	var out []benchCase
	for _, name := range strings.Split(v, ",") {
		i := slices.IndexFunc(benchCases, func(c benchCase) bool { return c.name == name })
		if i < 0 {
			b.Fatalf("OUTCROP_KB_BENCH_CASES: no case %q", name)
		}
		out = append(out, benchCases[i])
	}
	return out
}

// runQueries retrieves the 10 best chunks for every query and returns
// the IDs and latencies.
func runQueries(b *testing.B, svc *kb.Service, kbID string, qs []query, c benchCase) ([][]int64, latencies) {
	ctx := context.Background()
	ids := make([][]int64, len(qs))
	lat := make(latencies, len(qs))
	for i, q := range qs {
		text := q.text
		if c.question {
			text = q.question
		}
		if c.common {
			text = q.common
		}
		start := time.Now()
		res, err := svc.Retrieve(ctx, kb.Query{KBID: kbID, Text: text, N: 10, SearchType: c.search, Filter: c.filter})
		lat[i] = time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			ids[i] = append(ids[i], r.ID)
		}
	}
	return ids, lat
}

func recall(got, want [][]int64) float64 {
	var hit, all int
	for i := range want {
		in := map[int64]bool{}
		for _, id := range got[i] {
			in[id] = true
		}
		for _, id := range want[i] {
			all++
			if in[id] {
				hit++
			}
		}
	}
	if all == 0 {
		return 1
	}
	return float64(hit) / float64(all)
}

// BenchmarkRetrieve measures Retrieve over a synthetic knowledge base of
// $OUTCROP_KB_BENCH_CHUNKS chunks (default 100,000) of 384-dimensional
// unit vectors, first with exact search only, then with the ANN index: the
// latency percentiles of 300 queries per case (the query's embedding is a
// lookup, so the figures are search only), recall@10 of the ANN results
// against the exact ones, the time to load the knowledge base and build
// the index (what a restart costs), and heap growth against the indexes'
// own size. $OUTCROP_KB_BENCH_CASES picks cases (default: all). Run it
// with -benchtime 1x; see docs/performance.md.
func BenchmarkRetrieve(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("OUTCROP_KB_BENCH_CHUNKS")); err == nil {
		n = v
	}
	s := newSynth(7, benchDim, max(1, n/100), false)
	emb := &lookupEmbedder{}
	qs := s.queries(11, 300)
	emb.add(qs)
	st, kbID := benchCorpus(b, s, n, emb)
	defer st.Close()
	ctx := context.Background()
	cases := selectedCases(b)
	for b.Loop() {
		h0 := heapMiB()
		exact := kb.New(kb.Options{Store: st, Models: dimModels{emb, benchDim}, ANNMinChunks: -1})
		start := time.Now()
		if _, err := exact.Retrieve(ctx, kb.Query{KBID: kbID, Text: qs[0].text, SearchType: kb.SearchSemantic}); err != nil {
			b.Fatal(err)
		}
		loadExact := time.Since(start)
		h1 := heapMiB()
		want := map[string][][]int64{}
		ts := exact.IndexStats(kbID)
		for _, c := range cases {
			ids, lat := runQueries(b, exact, kbID, qs, c)
			want[c.name] = ids
			b.ReportMetric(lat.pct(0.5), "exact_"+c.name+"_p50_ms")
			b.ReportMetric(lat.pct(0.99), "exact_"+c.name+"_p99_ms")
		}
		exact.Close()
		exact = nil
		h2 := heapMiB()

		ann := kb.New(kb.Options{Store: st, Models: dimModels{emb, benchDim}})
		start = time.Now()
		if _, err := ann.Retrieve(ctx, kb.Query{KBID: kbID, Text: qs[0].text, SearchType: kb.SearchSemantic}); err != nil {
			b.Fatal(err)
		}
		firstANN := time.Since(start)
		if err := ann.WaitIndex(ctx, kbID); err != nil {
			b.Fatal(err)
		}
		loadANN := time.Since(start)
		h3 := heapMiB()
		rss := rssMiB()
		is := ann.IndexStats(kbID)
		for _, c := range cases {
			ids, lat := runQueries(b, ann, kbID, qs, c)
			b.ReportMetric(lat.pct(0.5), "ann_"+c.name+"_p50_ms")
			b.ReportMetric(lat.pct(0.99), "ann_"+c.name+"_p99_ms")
			b.ReportMetric(recall(ids, want[c.name]), "ann_"+c.name+"_recall@10")
		}
		b.ReportMetric(loadExact.Seconds(), "load_exact_s")
		b.ReportMetric(firstANN.Seconds(), "first_query_ann_s")
		b.ReportMetric(loadANN.Seconds(), "load_and_build_ann_s")
		b.ReportMetric(h1-h0, "heap_slab_MiB")
		b.ReportMetric(h3-h2, "heap_slab_and_index_MiB")
		b.ReportMetric(float64(is.IndexBytes)/(1<<20), "index_MiB")
		b.ReportMetric(float64(ts.TextBytes)/(1<<20), "text_index_MiB")
		b.ReportMetric(float64(ts.TextTerms), "text_terms")
		b.ReportMetric(rss, "rss_MiB")
		b.ReportMetric(float64(is.Lists), "ivf_lists")
		b.ReportMetric(float64(is.Chunks), "chunks")
		ann.Close()
	}
}
