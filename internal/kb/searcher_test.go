package kb_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/kb/vector"
	"github.com/outcrop/outcrop/internal/store/postgres"
	"github.com/outcrop/outcrop/internal/testpg"
)

// searcherMeta is corpusMeta plus a list of tags on two chunks in three,
// a flag and a title, so that every filter operator has something to do.
func searcherMeta(i int) map[string]any {
	m := corpusMeta(i)
	if i%3 != 0 {
		m["tags"] = []string{fmt.Sprintf("tag%d", i%7), fmt.Sprintf("tag%d", i%11)}
	}
	m["flag"] = i%4 == 0
	m["title"] = fmt.Sprintf("Title %d", i)
	return m
}

// searcherFilters use every operator; selective ones pass fewer than 400
// of the 2,000 chunks.
var searcherFilters = []struct {
	name      string
	f         *vector.Filter
	selective bool
}{
	{"none", nil, false},
	{"equals", &vector.Filter{Op: "equals", Key: "cat", Value: "cat7"}, true},
	{"equals bool", &vector.Filter{Op: "equals", Key: "flag", Value: true}, false},
	{"notEquals", &vector.Filter{Op: "notEquals", Key: "cat", Value: "cat0"}, false},
	{"greaterThan", &vector.Filter{Op: "greaterThan", Key: "year", Value: 2021.0}, true},
	{"greaterThanOrEquals", &vector.Filter{Op: "greaterThanOrEquals", Key: "year", Value: 2010.0}, false},
	{"lessThan", &vector.Filter{Op: "lessThan", Key: "year", Value: 2003.0}, true},
	{"lessThanOrEquals", &vector.Filter{Op: "lessThanOrEquals", Key: "year", Value: 2012.0}, false},
	{"in", &vector.Filter{Op: "in", Key: "cat", Value: []any{"cat1", "cat2", "cat3"}}, true},
	{"notIn", &vector.Filter{Op: "notIn", Key: "tags", Value: []any{"tag1"}}, false},
	{"startsWith", &vector.Filter{Op: "startsWith", Key: "cat", Value: "cat1"}, false}, // cat1, cat10..cat19
	{"listContains", &vector.Filter{Op: "listContains", Key: "tags", Value: "tag3"}, true},
	{"stringContains", &vector.Filter{Op: "stringContains", Key: "title", Value: "99"}, true},
	{"stringContains list", &vector.Filter{Op: "stringContains", Key: "tags", Value: "ag1"}, false},
	{"andAll", &vector.Filter{Op: "andAll", All: []*vector.Filter{
		{Op: "equals", Key: "lang", Value: "en"}, {Op: "lessThan", Key: "year", Value: 2005.0}}}, true},
	{"orAll", &vector.Filter{Op: "orAll", All: []*vector.Filter{
		{Op: "equals", Key: "lang", Value: "fr"}, {Op: "in", Key: "cat", Value: []any{"cat2", "cat4"}}}}, false},
}

// TestSearcherMatchesMemory builds a synthetic knowledge base of 2,000
// chunks in PostgreSQL and retrieves from it through the store's own
// search (kb.Searcher) and through the in-memory path over the same store
// (the store hidden behind a plain kb.Store), for every filter operator.
// Searched exactly (below the ANN threshold), SEMANTIC results must be the
// same, with the same scores. HYBRID ranks text with PostgreSQL's
// ts_rank_cd where the in-memory path has its own BM25, so it is checked
// against the fusion of the in-memory semantic ranking with the store's
// text ranking filtered in Go. With the HNSW index from 400 chunks,
// filters passing fewer chunks than that must still give exactly those
// results, and the others recall@10 ≥ 0.98.
func TestSearcherMatchesMemory(t *testing.T) {
	dsn := testpg.DSN(t)
	ctx := context.Background()
	open := func(ann int) *postgres.Store {
		st, err := postgres.Open(ctx, postgres.Options{DSN: dsn, ANNMinChunks: ann})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	exactStore, annStore := open(-1), open(400)
	s := newSynth(5, benchDim, 30, false)
	emb := &lookupEmbedder{}
	qs := s.queries(6, 5)
	emb.add(qs)
	models := dimModels{emb, benchDim}
	mem := kb.New(kb.Options{Store: struct{ kb.Store }{exactStore}, Models: models, ANNMinChunks: -1})
	exact := kb.New(kb.Options{Store: exactStore, Models: models})
	ann := kb.New(kb.Options{Store: annStore, Models: models})
	for _, svc := range []*kb.Service{mem, exact, ann} {
		t.Cleanup(func() { svc.Close() })
	}
	kbID := buildMetaCorpus(t, exactStore, exact, s, 2000)
	if err := ann.WaitIndex(ctx, kbID); err != nil {
		t.Fatal(err)
	}
	ignoreVec := cmpopts.IgnoreFields(kb.Chunk{}, "Vector")
	for _, tt := range searcherFilters {
		t.Run(tt.name, func(t *testing.T) {
			for _, st := range []string{kb.SearchSemantic, kb.SearchHybrid} {
				var got, want [][]int64
				for _, q := range qs {
					kq := kb.Query{KBID: kbID, Text: q.text, N: 10, SearchType: st, Filter: tt.f}
					w := wantResults(t, mem, exactStore, kq)
					if len(w) != 10 {
						t.Fatalf("%s: the reference has %d results, want 10", st, len(w))
					}
					x, err := exact.Retrieve(ctx, kq)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(w, x, ignoreVec); diff != "" {
						t.Fatalf("%s %q: exact store search differs from the reference (-want +got):\n%s", st, q.text, diff)
					}
					a, err := ann.Retrieve(ctx, kq)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range a {
						if !vector.Match(tt.f, r.Meta) {
							t.Fatalf("%s: chunk %d with metadata %v does not pass the filter", st, r.ID, r.Meta)
						}
					}
					if tt.selective {
						if diff := cmp.Diff(w, a, ignoreVec); diff != "" {
							t.Fatalf("%s %q: HNSW store search with a selective filter differs from the reference (-want +got):\n%s", st, q.text, diff)
						}
					}
					got, want = append(got, ids(a)), append(want, ids(w))
				}
				if r := recall(got, want); r < 0.98 {
					t.Errorf("%s: recall@10 through HNSW = %.3f, want ≥ 0.98", st, r)
				}
			}
		})
	}
}

// wantResults is what Retrieve through a Searcher must return for q (no
// HIERARCHICAL chunks): for SEMANTIC, the in-memory exact path's results;
// for HYBRID, the in-memory semantic ranking of the pool fused with the
// store's unfiltered text ranking filtered with vector.Match.
func wantResults(t *testing.T, mem *kb.Service, st *postgres.Store, q kb.Query) []kb.Result {
	t.Helper()
	ctx := context.Background()
	if q.SearchType == kb.SearchSemantic {
		res, err := mem.Retrieve(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	pool := max(4*q.N, 50)
	sq := q
	sq.SearchType, sq.N = kb.SearchSemantic, pool
	sem, err := mem.Retrieve(ctx, sq)
	if err != nil {
		t.Fatal(err)
	}
	text, err := st.MatchingChunks(ctx, q.KBID, q.Text, 100000, nil)
	if err != nil {
		t.Fatal(err)
	}
	chunks := map[int64]kb.Chunk{}
	var sh, th []vector.Scored
	for _, r := range sem {
		chunks[r.ID] = r.Chunk
		sh = append(sh, vector.Scored{ID: r.ID, Score: r.Score})
	}
	for _, r := range text {
		if vector.Match(q.Filter, r.Meta) && len(th) < pool {
			chunks[r.ID] = r.Chunk
			th = append(th, vector.Scored{ID: r.ID, Score: r.Score})
		}
	}
	var out []kb.Result
	for _, h := range vector.Fuse([][]vector.Scored{sh, th}, []float64{1, 1}, pool)[:q.N] {
		out = append(out, kb.Result{Chunk: chunks[h.ID], Score: h.Score})
	}
	return out
}

// buildMetaCorpus is buildCorpus with searcherMeta.
func buildMetaCorpus(t testing.TB, st kb.Store, svc *kb.Service, s *synth, n int) string {
	ctx := context.Background()
	k, err := svc.CreateKnowledgeBase(ctx, kb.KnowledgeBase{Name: "searcher", RoleARN: "arn:aws:iam::000000000000:role/x",
		EmbeddingModelARN: "arn:aws:bedrock:us-east-1::foundation-model/test.embed"})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := svc.CreateDataSource(ctx, kb.DataSource{KBID: k.ID, Name: "synthetic", Type: kb.TypeCustom})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(n), 4))
	for d := 0; d*10 < n; d++ {
		doc := kb.Document{KBID: k.ID, DSID: ds.ID, ID: fmt.Sprintf("doc%06d", d), Type: kb.TypeCustom, Status: kb.DocIndexed}
		var chunks []kb.Chunk
		for i := d * 10; i < min(n, (d+1)*10); i++ {
			tp := rng.IntN(len(s.centres))
			chunks = append(chunks, kb.Chunk{Seq: i - d*10, Text: s.text(rng, tp, 60), Vector: s.vec(rng, tp), Meta: searcherMeta(i)})
		}
		if err := st.ReplaceDocument(ctx, doc, chunks, true, nil); err != nil {
			t.Fatal(err)
		}
	}
	return k.ID
}
