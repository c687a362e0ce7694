package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/kb/vector"
	"github.com/outcrop/outcrop/internal/testpg"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpg.Stop()
	os.Exit(code)
}

func open(t *testing.T, opts Options) *Store {
	t.Helper()
	if opts.DSN == "" {
		opts.DSN = testpg.DSN(t)
	}
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// meta is chunk i's metadata: every attribute type Bedrock allows and the
// cases vector.Match treats specially (missing keys, lists with a
// non-string, a number written as a string, fractions, negative zero,
// strings that look like JSON or SQL).
func meta(i int) map[string]any {
	m := map[string]any{
		"lang":  []string{"en", "fr"}[i%2],
		"cat":   fmt.Sprintf("cat%d", i%20),
		"year":  float64(2000 + i%25),
		"score": float64(i%40)/8 - 2.5,
		"flag":  i%4 == 0,
		"title": fmt.Sprintf("Title %d of the 'corpus' \"%%\"", i),
	}
	if i%3 != 0 {
		m["tags"] = []string{fmt.Sprintf("tag%d", i%7), fmt.Sprintf("tag%d", i%11)}
	}
	switch i % 13 {
	case 0:
		m["mixed"] = []any{"tag1", 1.0}
	case 1:
		m["mixed"] = "tag1"
	case 2:
		m["mixed"] = 2005.0
	case 3:
		m["mixed"] = "2005"
	case 4:
		m["mixed"] = []string{}
	case 5:
		m["mixed"] = true
	case 6:
		m["mixed"] = -0.0
	case 7:
		m["mixed"] = 1e21
	case 8:
		m["mixed"] = 0.1
	}
	return m
}

// corpus writes n chunks with random unit vectors of dim dimensions, 10
// to a document, into a new knowledge base, and returns its ID.
func corpus(t *testing.T, s *Store, n, dim int) string {
	t.Helper()
	ctx := context.Background()
	k := kb.KnowledgeBase{ID: kb.NewID(), Name: "kb", Dimensions: dim, Created: time.Now()}
	if err := s.PutKnowledgeBase(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDataSource(ctx, kb.DataSource{KBID: k.ID, ID: "DS", Name: "ds", Type: kb.TypeCustom}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(n), 5))
	for d := 0; d*10 < n; d++ {
		var chunks []kb.Chunk
		for i := d * 10; i < min(n, d*10+10); i++ {
			chunks = append(chunks, kb.Chunk{Seq: i - d*10, Text: fmt.Sprintf("chunk %d word%d", i, i%17), Vector: randVec(rng, dim), Meta: meta(i)})
		}
		doc := kb.Document{KBID: k.ID, DSID: "DS", ID: fmt.Sprintf("doc%04d", d), Type: kb.TypeCustom, Status: kb.DocIndexed}
		if err := s.ReplaceDocument(ctx, doc, chunks, true, nil); err != nil {
			t.Fatal(err)
		}
	}
	return k.ID
}

func randVec(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	vector.Normalize(v)
	return v
}

func f(op, key string, v any) *vector.Filter { return &vector.Filter{Op: op, Key: key, Value: v} }

func all(op string, fs ...*vector.Filter) *vector.Filter { return &vector.Filter{Op: op, All: fs} }

// filters exercise every operator on every attribute type.
var filters = []struct {
	name string
	f    *vector.Filter
}{
	{"equals string", f("equals", "cat", "cat7")},
	{"equals number", f("equals", "year", 2005.0)},
	{"equals number as string", f("equals", "year", "2005")},
	{"equals string as number", f("equals", "mixed", 2005.0)},
	{"equals bool", f("equals", "flag", true)},
	{"equals negative zero", f("equals", "mixed", 0.0)},
	{"equals big", f("equals", "mixed", 1e21)},
	{"equals fraction", f("equals", "mixed", 0.1)},
	{"equals list", f("equals", "tags", "tag1")},
	{"equals quotes", f("equals", "title", "Title 7 of the 'corpus' \"%\"")},
	{"equals missing", f("equals", "nope", "x")},
	{"notEquals", f("notEquals", "cat", "cat0")},
	{"notEquals sometimes missing", f("notEquals", "mixed", "tag1")},
	{"notEquals missing", f("notEquals", "nope", true)},
	{"greaterThan", f("greaterThan", "year", 2010.0)},
	{"greaterThan fraction", f("greaterThan", "score", 1.25)},
	{"greaterThanOrEquals", f("greaterThanOrEquals", "score", 1.25)},
	{"lessThan", f("lessThan", "score", -1.0)},
	{"lessThanOrEquals", f("lessThanOrEquals", "year", 2003.0)},
	{"lessThan mixed types", f("lessThan", "mixed", 1.0)},
	{"greaterThan string attribute", f("greaterThan", "cat", 0.0)},
	{"in", f("in", "cat", []any{"cat1", "cat2", "cat3"})},
	{"in mixed list", f("in", "mixed", []any{"tag1", 2005.0, true, []any{"tag1", 1.0}, nil, map[string]any{"a": 1.0}})},
	{"in on a list attribute", f("in", "tags", []any{"tag1", "tag2"})},
	{"in empty", f("in", "cat", []any{})},
	{"notIn", f("notIn", "cat", []any{"cat1", "cat2"})},
	{"notIn sometimes missing", f("notIn", "mixed", []any{"tag1", 0.1})},
	{"notIn empty", f("notIn", "cat", []any{})},
	{"startsWith", f("startsWith", "cat", "cat1")},
	{"startsWith empty", f("startsWith", "mixed", "")},
	{"startsWith list", f("startsWith", "tags", "tag")},
	{"startsWith pattern characters", f("startsWith", "title", "Title 1_")},
	{"listContains", f("listContains", "tags", "tag3")},
	{"listContains mixed list", f("listContains", "mixed", "tag1")},
	{"listContains number", f("listContains", "mixed", 1.0)},
	{"listContains string attribute", f("listContains", "cat", "cat1")},
	{"stringContains", f("stringContains", "title", "7 of")},
	{"stringContains list", f("stringContains", "tags", "ag1")},
	{"stringContains empty", f("stringContains", "mixed", "")},
	{"stringContains quotes", f("stringContains", "title", "'corpus' \"%\"")},
	{"stringContains percent", f("stringContains", "title", "%")},
	{"andAll", all("andAll", f("equals", "lang", "en"), f("lessThan", "year", 2005.0))},
	{"orAll", all("orAll", f("equals", "lang", "fr"), f("in", "cat", []any{"cat2", "cat4"}))},
	{"nested", all("orAll", all("andAll", f("notIn", "mixed", []any{"tag1"}), f("listContains", "tags", "tag2")),
		f("stringContains", "tags", "g10"), f("equals", "flag", true))},
}

// TestFilterSQL checks that each filter's SQL selects exactly the chunks
// that vector.Match accepts.
func TestFilterSQL(t *testing.T) {
	s := open(t, Options{})
	ctx := context.Background()
	kbID := corpus(t, s, 2000, 8)
	chunks, err := s.KBChunks(ctx, kbID)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range chunks {
		// The metadata comes back as it went in.
		if diff := cmp.Diff(kb.UnmarshalMeta(kb.MarshalMeta(meta(i))), c.Meta); diff != "" {
			t.Fatalf("chunk %d metadata (-want +got):\n%s", i, diff)
		}
	}
	for _, tt := range filters {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f.Validate(); err != nil {
				t.Fatal(err)
			}
			var want []int64
			for _, c := range chunks {
				if vector.Match(tt.f, c.Meta) {
					want = append(want, c.ID)
				}
			}
			args := []any{kbID}
			rows, err := s.pool.Query(ctx, `SELECT id FROM kb_chunks WHERE kb_id = $1 AND `+filterSQL(tt.f, &args)+` ORDER BY id`, args...)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				got = append(got, id)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("chunks passing %+v (-vector.Match +SQL):\n%s", tt.f, diff)
			}
			t.Logf("%d of %d chunks pass", len(want), len(chunks))
		})
	}
}

// exactNearest ranks chunks by vector.Dot, ties to the lower ID: what the
// in-memory exact scan returns.
func exactNearest(chunks []kb.Chunk, q []float32, k int, flt *vector.Filter) []int64 {
	var hits []vector.Scored
	for _, c := range chunks {
		if vector.Match(flt, c.Meta) {
			hits = append(hits, vector.Scored{ID: c.ID, Score: float64(vector.Dot(q, c.Vector))})
		}
	}
	hits = vector.TopK(hits, k)
	out := make([]int64, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

// TestNearestChunks checks vector search against an exact scan in Go:
// below the ANN threshold (every filter) exactly; with the HNSW index,
// exactly for filters passing fewer chunks than the threshold and at
// recall@10 ≥ 0.95 for the others (random vectors, the hardest case), and
// never fewer results than asked for when enough chunks pass.
func TestNearestChunks(t *testing.T) {
	dsn := testpg.DSN(t)
	exact := open(t, Options{DSN: dsn, ANNMinChunks: -1})
	ann := open(t, Options{DSN: dsn, ANNMinChunks: 500})
	ctx := context.Background()
	const dim = 32
	kbID := corpus(t, exact, 3000, dim)
	if err := ann.WaitIndex(ctx, kbID); err != nil {
		t.Fatal(err)
	}
	chunks, err := exact.KBChunks(ctx, kbID)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	var qs [][]float32
	for range 10 {
		qs = append(qs, randVec(rng, dim))
	}
	for _, tt := range append(filters, struct {
		name string
		f    *vector.Filter
	}{"none", nil}) {
		t.Run(tt.name, func(t *testing.T) {
			passing := 0
			for _, c := range chunks {
				if vector.Match(tt.f, c.Meta) {
					passing++
				}
			}
			var got, want [][]int64
			for _, q := range qs {
				w := exactNearest(chunks, q, 10, tt.f)
				for name, s := range map[string]*Store{"exact": exact, "ann": ann} {
					res, err := s.NearestChunks(ctx, kbID, q, 10, tt.f)
					if err != nil {
						t.Fatal(err)
					}
					var ids []int64
					for i, r := range res {
						ids = append(ids, r.ID)
						if !vector.Match(tt.f, r.Meta) {
							t.Fatalf("%s: chunk %d does not pass the filter", name, r.ID)
						}
						if i > 0 && r.Score > res[i-1].Score {
							t.Fatalf("%s: results out of order", name)
						}
					}
					if len(ids) != len(w) {
						t.Fatalf("%s: %d results, want %d", name, len(ids), len(w))
					}
					if name == "exact" || passing < 500 {
						if diff := cmp.Diff(w, ids, cmpopts.EquateEmpty()); diff != "" {
							t.Fatalf("%s (%d passing): results (-exact scan +store):\n%s", name, passing, diff)
						}
					} else {
						got, want = append(got, ids), append(want, w)
					}
				}
			}
			if len(want) > 0 {
				if r := recall(got, want); r < 0.95 {
					t.Errorf("HNSW recall@10 = %.3f with %d passing, want ≥ 0.95", r, passing)
				} else {
					t.Logf("HNSW recall@10 %.3f with %d of %d passing", r, passing, len(chunks))
				}
			}
		})
	}
}

func recall(got, want [][]int64) float64 {
	var hit, n int
	for i := range want {
		in := map[int64]bool{}
		for _, id := range got[i] {
			in[id] = true
		}
		for _, id := range want[i] {
			n++
			if in[id] {
				hit++
			}
		}
	}
	return float64(hit) / float64(max(n, 1))
}

// TestHNSWPlan checks that a search above the threshold uses the
// knowledge base's HNSW index, and one below does not.
func TestHNSWPlan(t *testing.T) {
	s := open(t, Options{ANNMinChunks: 100})
	ctx := context.Background()
	kbID := corpus(t, s, 200, 16)
	if err := s.WaitIndex(ctx, kbID); err != nil {
		t.Fatal(err)
	}
	q := vectorText(randVec(rand.New(rand.NewPCG(1, 1)), 16))
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET LOCAL enable_sort = off"); err != nil {
		t.Fatal(err)
	}
	plan := func(sql string, args ...any) string {
		rows, err := tx.Query(ctx, "EXPLAIN "+sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out string
		for rows.Next() {
			var l string
			rows.Scan(&l)
			out += l + "\n"
		}
		return out
	}
	hnsw := plan(fmt.Sprintf(`SELECT id FROM kb_chunks WHERE kb_id = '%s' AND kb_id = $1 ORDER BY embedding::vector(16) <=> $2::text::vector(16) LIMIT 10`, kbID), kbID, q)
	if want := hnswIndex(kbID); !strings.Contains(hnsw, want) {
		t.Errorf("the HNSW query's plan does not use %s:\n%s", want, hnsw)
	}
	exact := plan(`SELECT id FROM kb_chunks WHERE kb_id = $1 ORDER BY embedding <=> $2::text::vector, id LIMIT 10`, kbID, q)
	if strings.Contains(exact, "hnsw") {
		t.Errorf("the exact query's plan uses the HNSW index:\n%s", exact)
	}
}

// TestMatchingChunks checks the text ranking: any word may match, the
// filter applies, and the unfiltered SearchText agrees.
func TestMatchingChunks(t *testing.T) {
	s := open(t, Options{})
	ctx := context.Background()
	kbID := corpus(t, s, 300, 4)
	res, err := s.MatchingChunks(ctx, kbID, "Word3 nothing-here!", 100, f("equals", "lang", "en"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res {
		got = append(got, r.Text)
	}
	sort.Strings(got)
	var want []string
	for i := range 300 {
		if i%17 == 3 && i%2 == 0 {
			want = append(want, fmt.Sprintf("chunk %d word3", i))
		}
	}
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MatchingChunks (-want +got):\n%s", diff)
	}
	sc, err := s.SearchText(ctx, kbID, "chunk 42", 3)
	if err != nil || len(sc) != 3 {
		t.Fatalf("SearchText = %v, %v; want 3 hits", sc, err)
	}
	if r, err := s.MatchingChunks(ctx, kbID, "!!! ???", 10, nil); err != nil || len(r) != 0 {
		t.Errorf("a query without words = %v, %v; want nothing", r, err)
	}
	if r, err := s.MatchingChunks(ctx, kbID, "' & | ! ( ) :* <-> --", 10, nil); err != nil || len(r) != 0 {
		t.Errorf("a query of operators = %v, %v; want nothing", r, err)
	}
}

// TestStoreErrors checks the fault kinds and messages of missing records,
// as store/sqlite gives them.
func TestStoreErrors(t *testing.T) {
	s := open(t, Options{})
	ctx := context.Background()
	_, err1 := s.KnowledgeBase(ctx, "NOPE")
	_, err2 := s.DataSource(ctx, "NOPE", "DS")
	_, err3 := s.IngestionJob(ctx, "NOPE", "DS", "J")
	_, err4 := s.Document(ctx, "NOPE", "DS", "d")
	got := []string{}
	for _, err := range []error{err1, err2, err3, err4} {
		got = append(got, fmt.Sprintf("%v: %v", fault.KindOf(err), err))
	}
	want := []string{
		fmt.Sprintf("%v: Knowledge base with id NOPE does not exist", fault.NotFound),
		fmt.Sprintf("%v: DataSource with id DS does not exist in knowledge base NOPE", fault.NotFound),
		fmt.Sprintf("%v: IngestionJob with id J does not exist", fault.NotFound),
		fmt.Sprintf("%v: document d not found", fault.NotFound),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

// TestDeleteKnowledgeBase checks that deleting a knowledge base removes
// its chunks and its HNSW index, and that NUL characters are dropped
// rather than refused.
func TestDeleteKnowledgeBase(t *testing.T) {
	s := open(t, Options{ANNMinChunks: 10})
	ctx := context.Background()
	kbID := corpus(t, s, 20, 4)
	if err := s.WaitIndex(ctx, kbID); err != nil {
		t.Fatal(err)
	}
	if valid, _, err := s.indexValid(ctx, s.pool, kbID); !valid || err != nil {
		t.Fatalf("no valid HNSW index after WaitIndex: %v", err)
	}
	doc := kb.Document{KBID: kbID, DSID: "DS", ID: "nul", Type: kb.TypeCustom}
	if err := s.ReplaceDocument(ctx, doc, []kb.Chunk{{Text: "a\x00b", Vector: []float32{1, 0, 0, 0}, Meta: map[string]any{"k\x00": "v\x00"}}}, true, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := s.DocumentChunks(ctx, kbID, "DS", "nul")
	if err != nil || len(cs) != 1 || cs[0].Text != "ab" || cs[0].Meta["k"] != "v" {
		t.Fatalf("chunk with NULs = %+v, %v", cs, err)
	}
	if err := s.DeleteKnowledgeBase(ctx, kbID); err != nil {
		t.Fatal(err)
	}
	var n, idx int
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM kb_chunks), (SELECT count(*) FROM pg_indexes WHERE indexname = $1)`, hnswIndex(kbID)).Scan(&n, &idx); err != nil {
		t.Fatal(err)
	}
	if n != 0 || idx != 0 {
		t.Errorf("after DeleteKnowledgeBase: %d chunks and %d HNSW indexes left", n, idx)
	}
}

// TestJobLeases runs two stores on one database, as two replicas: a job
// started on one makes starting another of the same data source on the
// other a Conflict, the other does not resume it while the first lives,
// and resumes it once the first is gone.
func TestJobLeases(t *testing.T) {
	dsn := testpg.DSN(t)
	a := open(t, Options{DSN: dsn})
	b, err := Open(context.Background(), Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	kbID := corpus(t, a, 10, 4)
	job := func(id string) kb.IngestionJob {
		return kb.IngestionJob{KBID: kbID, DSID: "DS", ID: id, Status: kb.JobStarting, Started: time.Now()}
	}
	unfinished := func(s *Store) []string {
		t.Helper()
		js, err := s.UnfinishedIngestionJobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, j := range js {
			out = append(out, j.ID+" "+j.Status)
		}
		return out
	}
	if err := a.PutIngestionJob(ctx, job("J1")); err != nil {
		t.Fatal(err)
	}
	if err := b.PutIngestionJob(ctx, job("J2")); fault.KindOf(err) != fault.Conflict {
		t.Errorf("starting a second job on another replica: %v, want Conflict", err)
	}
	if got := unfinished(b); len(got) != 0 {
		t.Errorf("the other replica would resume %v", got)
	}
	if diff := cmp.Diff([]string{"J1 STARTING"}, unfinished(a)); diff != "" {
		t.Errorf("the running replica's unfinished jobs (-want +got):\n%s", diff)
	}
	j := job("J1")
	j.Status = kb.JobInProgress
	if err := a.PutIngestionJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	a.Close() // the replica dies: its session ends
	if diff := cmp.Diff([]string{"J1 IN_PROGRESS"}, unfinished(b)); diff != "" {
		t.Errorf("after the first replica closed, the other's unfinished jobs (-want +got):\n%s", diff)
	}
	j.Status = kb.JobComplete
	if err := b.PutIngestionJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	c := open(t, Options{DSN: dsn})
	if err := c.PutIngestionJob(ctx, job("J3")); err != nil {
		t.Errorf("starting a job after the last one completed elsewhere: %v", err)
	}
}
