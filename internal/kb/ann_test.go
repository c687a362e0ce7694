package kb_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/kb/vector"
	"github.com/outcrop/outcrop/internal/store/sqlite"
)

// annEnv is a synthetic knowledge base of 6,000 chunks of 384 dimensions
// searched by two services over the same store: one exact only, one with
// the ANN index from 2,000 chunks.
type annEnv struct {
	store        *sqlite.Store
	exact, ann   *kb.Service
	kbID         string
	qs           []query
	annThreshold int
}

func newANNEnv(t *testing.T) *annEnv {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	s := newSynth(3, benchDim, 60, false)
	emb := &lookupEmbedder{}
	e := &annEnv{store: st, qs: s.queries(5, 100), annThreshold: 2000}
	emb.add(e.qs)
	e.exact = kb.New(kb.Options{Store: st, Models: dimModels{emb, benchDim}, ANNMinChunks: -1})
	e.ann = kb.New(kb.Options{Store: st, Models: dimModels{emb, benchDim}, ANNMinChunks: e.annThreshold})
	e.kbID = buildCorpus(t, st, e.exact, s, 6000)
	t.Cleanup(func() {
		e.exact.Close()
		e.ann.Close()
		st.Close()
	})
	if err := e.ann.WaitIndex(context.Background(), e.kbID); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *annEnv) retrieve(t *testing.T, svc *kb.Service, q query, st string, f *vector.Filter) []kb.Result {
	t.Helper()
	res, err := svc.Retrieve(context.Background(), kb.Query{KBID: e.kbID, Text: q.text, N: 10, SearchType: st, Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func ids(rs []kb.Result) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// TestANNRecall checks recall@10 of the ANN index against the exact scan
// on a fixed seed, for semantic and hybrid search.
func TestANNRecall(t *testing.T) {
	e := newANNEnv(t)
	for _, st := range []string{kb.SearchSemantic, kb.SearchHybrid} {
		var got, want [][]int64
		for _, q := range e.qs {
			want = append(want, ids(e.retrieve(t, e.exact, q, st, nil)))
			got = append(got, ids(e.retrieve(t, e.ann, q, st, nil)))
		}
		if r := recall(got, want); r < 0.98 {
			t.Errorf("%s: recall@10 of the ANN index = %.3f, want ≥ 0.98", st, r)
		} else {
			t.Logf("%s: recall@10 %.3f", st, r)
		}
	}
	is := e.ann.IndexStats(e.kbID)
	if !is.ANN || is.Indexed != 6000 || is.Chunks != 6000 {
		t.Errorf("IndexStats = %+v, want an ANN index over 6000 chunks", is)
	}
	if is := e.exact.IndexStats(e.kbID); is.ANN {
		t.Errorf("the exact service built an index: %+v", is)
	}
}

// TestANNFilters checks that filtered retrieval with the ANN index on
// returns only chunks passing the filter, exactly the exact path's
// results when the filter is selective (fewer matches than the index
// threshold: searched exactly), and the same results at recall ≥ 0.98
// otherwise.
func TestANNFilters(t *testing.T) {
	e := newANNEnv(t)
	cats := func(cs ...string) []any {
		var out []any
		for _, c := range cs {
			out = append(out, c)
		}
		return out
	}
	tests := []struct {
		name      string
		f         *vector.Filter
		selective bool // fewer than 2000 of 6000 chunks pass
	}{
		{"equals", &vector.Filter{Op: "equals", Key: "cat", Value: "cat7"}, true},
		{"in", &vector.Filter{Op: "in", Key: "cat", Value: cats("cat1", "cat2", "cat3")}, true},
		{"startsWith", &vector.Filter{Op: "startsWith", Key: "cat", Value: "cat1"}, true}, // cat1, cat10..cat19
		{"andAll", &vector.Filter{Op: "andAll", All: []*vector.Filter{
			{Op: "equals", Key: "lang", Value: "en"}, {Op: "lessThan", Key: "year", Value: 2005.0}}}, true},
		{"equals_half", &vector.Filter{Op: "equals", Key: "lang", Value: "en"}, false},
		{"notEquals", &vector.Filter{Op: "notEquals", Key: "cat", Value: "cat0"}, false},
		{"greaterThanOrEquals", &vector.Filter{Op: "greaterThanOrEquals", Key: "year", Value: 2010.0}, false},
		{"orAll", &vector.Filter{Op: "orAll", All: []*vector.Filter{
			{Op: "equals", Key: "lang", Value: "fr"}, {Op: "in", Key: "cat", Value: cats("cat2", "cat4")}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, st := range []string{kb.SearchSemantic, kb.SearchHybrid} {
				var got, want [][]int64
				for _, q := range e.qs[:40] {
					a := e.retrieve(t, e.ann, q, st, tt.f)
					for _, r := range a {
						if !vector.Match(tt.f, r.Meta) {
							t.Fatalf("%s: chunk %d with metadata %v does not pass the filter", st, r.ID, r.Meta)
						}
					}
					x := ids(e.retrieve(t, e.exact, q, st, tt.f))
					if tt.selective {
						if diff := cmp.Diff(x, ids(a)); diff != "" {
							t.Fatalf("%s %q: ANN service results differ from exact (-exact +ann):\n%s", st, q.text, diff)
						}
					}
					got, want = append(got, ids(a)), append(want, x)
				}
				if r := recall(got, want); r < 0.98 {
					t.Errorf("%s: recall@10 = %.3f, want ≥ 0.98", st, r)
				}
			}
		})
	}
}

// TestANNDeletes syncs a bucket into a knowledge base large enough for
// the index, deletes and edits files, syncs again, and checks that the
// index holds exactly the store's chunks and that deleted text is never
// retrieved.
func TestANNDeletes(t *testing.T) {
	e := newEnvOpts(t, 20)
	k, ds := e.setup()
	for i := range 30 {
		e.write(fmt.Sprintf("doc%02d.txt", i), fmt.Sprintf("word%d alpha%d beta%d gamma%d delta%d epsilon%d zeta%d", i, i, i, i, i, i, i))
	}
	e.sync(k, ds)
	check := func(when string) {
		t.Helper()
		if err := e.svc.WaitIndex(context.Background(), k.ID); err != nil {
			t.Fatal(err)
		}
		cs, err := e.store.KBChunks(context.Background(), k.ID)
		if err != nil {
			t.Fatal(err)
		}
		is := e.svc.IndexStats(k.ID)
		if !is.ANN || is.Indexed != len(cs) || is.Chunks != len(cs) {
			t.Errorf("%s: IndexStats = %+v, want an index over the store's %d chunks", when, is, len(cs))
		}
	}
	// Load the slab (and build the index) before changing anything, so
	// the changes below go through the incremental path.
	if _, err := e.svc.Retrieve(context.Background(), kb.Query{KBID: k.ID, Text: "word1"}); err != nil {
		t.Fatal(err)
	}
	check("after the first sync")
	for i := range 10 {
		os.Remove(filepath.Join(e.bucket, fmt.Sprintf("doc%02d.txt", i)))
	}
	e.write("doc10.txt", "rewritten completely")
	if j := e.sync(k, ds); j.Stats.Deleted != 10 || j.Stats.ModifiedIndexed != 1 {
		t.Fatalf("second sync: %+v", j.Stats)
	}
	check("after deleting ten files and editing one")
	for i := range 11 {
		res, err := e.svc.Retrieve(context.Background(), kb.Query{KBID: k.ID, Text: fmt.Sprintf("alpha%d beta%d", i, i), N: 100, SearchType: kb.SearchSemantic})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if strings.Contains(r.Text, fmt.Sprintf("alpha%d ", i)) {
				t.Errorf("deleted text of doc%02d retrieved: %q", i, r.Text)
			}
		}
	}
	// Direct deletion goes through the same path.
	cds, err := e.svc.CreateDataSource(context.Background(), kb.DataSource{KBID: k.ID, Name: "custom", Type: kb.TypeCustom})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.IngestDocuments(context.Background(), k.ID, cds.ID, []kb.DocumentInput{{ID: "c1", Type: kb.TypeCustom, Text: "custom words here"}}); err != nil {
		t.Fatal(err)
	}
	check("after direct ingestion")
	if _, err := e.svc.DeleteDocuments(context.Background(), k.ID, cds.ID, []string{"c1"}); err != nil {
		t.Fatal(err)
	}
	check("after direct deletion")
}

// TestANNRestart checks that a restarted service rebuilds the index from
// SQLite and retrieves what it did before.
func TestANNRestart(t *testing.T) {
	e := newEnvOpts(t, 20)
	k, ds := e.setup()
	for i := range 30 {
		e.write(fmt.Sprintf("doc%02d.txt", i), fmt.Sprintf("word%d alpha%d beta%d gamma%d delta%d epsilon%d zeta%d", i, i, i, i, i, i, i))
	}
	e.sync(k, ds)
	q := kb.Query{KBID: k.ID, Text: "alpha3 beta3 gamma7", N: 10, SearchType: kb.SearchSemantic}
	if err := e.svc.WaitIndex(context.Background(), k.ID); err != nil {
		t.Fatal(err)
	}
	before, err := e.svc.Retrieve(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	want := e.svc.IndexStats(k.ID)
	e.close()
	e.open()
	if is := e.svc.IndexStats(k.ID); is.Loaded {
		t.Fatalf("a new service has a loaded cache: %+v", is)
	}
	// The first search after a restart loads the chunks and scans them
	// exactly while the index is trained in the background.
	if _, err := e.svc.Retrieve(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.WaitIndex(context.Background(), k.ID); err != nil {
		t.Fatal(err)
	}
	after, err := e.svc.Retrieve(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.svc.IndexStats(k.ID); !got.ANN || got.Indexed != want.Indexed || got.Chunks != want.Chunks {
		t.Errorf("after restart IndexStats = %+v, want %+v", got, want)
	}
	if diff := cmp.Diff(ids(before), ids(after)); diff != "" {
		t.Errorf("results after restart (-before +after):\n%s", diff)
	}
}

// TestANNWritesDuringBuild deletes documents right after the first search
// started the index build (a 6,000-chunk build takes long enough that the
// deletes usually land while it runs and are replayed; if it finished
// first they go through the incremental path): either way the finished
// index holds exactly SQLite's chunks and never returns a deleted one.
func TestANNWritesDuringBuild(t *testing.T) {
	e := newANNEnv(t)
	ctx := context.Background()
	svc := kb.New(kb.Options{Store: e.store, Models: dimModels{&lookupEmbedder{vecs: map[string][]float32{e.qs[0].text: e.qs[0].vec}}, benchDim}, ANNMinChunks: e.annThreshold})
	defer svc.Close()
	if _, err := svc.Retrieve(ctx, kb.Query{KBID: e.kbID, Text: e.qs[0].text}); err != nil {
		t.Fatal(err)
	}
	dss, err := svc.DataSources(ctx, e.kbID)
	if err != nil {
		t.Fatal(err)
	}
	var del []string
	for d := range 50 {
		del = append(del, fmt.Sprintf("doc%06d", d))
	}
	if _, err := svc.DeleteDocuments(ctx, e.kbID, dss[0].ID, del); err != nil {
		t.Fatal(err)
	}
	if err := svc.WaitIndex(ctx, e.kbID); err != nil {
		t.Fatal(err)
	}
	cs, err := e.store.KBChunks(ctx, e.kbID)
	if err != nil {
		t.Fatal(err)
	}
	if is := svc.IndexStats(e.kbID); !is.ANN || is.Indexed != len(cs) || is.Chunks != len(cs) || len(cs) != 5500 {
		t.Fatalf("IndexStats = %+v with %d chunks in SQLite, want an index over 5500", is, len(cs))
	}
	res, err := svc.Retrieve(ctx, kb.Query{KBID: e.kbID, Text: e.qs[0].text, N: 100, SearchType: kb.SearchSemantic})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.DocID < "doc000050" {
			t.Errorf("chunk %d of deleted document %s retrieved", r.ID, r.DocID)
		}
	}
}
