package kb_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/kb/vector"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/webcrawl"
)

// bowEmbedder embeds texts as hashed bags of words; calls counts texts
// and, when failAfter is reached, it fails (simulating a crash).
type bowEmbedder struct {
	texts     atomic.Int64
	failAfter int64
	onFail    func()
}

func (e *bowEmbedder) Embed(ctx context.Context, r *provider.EmbedRequest) (*provider.EmbedResponse, error) {
	if e.failAfter > 0 && e.texts.Load()+int64(len(r.Texts)) > e.failAfter {
		e.onFail()
		<-ctx.Done() // the "process" dies here
		return nil, ctx.Err()
	}
	e.texts.Add(int64(len(r.Texts)))
	out := &provider.EmbedResponse{}
	for _, t := range r.Texts {
		v := make([]float32, 64)
		for _, w := range strings.Fields(strings.ToLower(t)) {
			h := fnv.New32a()
			h.Write([]byte(strings.Trim(w, ".,?!")))
			v[h.Sum32()%64]++
		}
		out.Vectors = append(out.Vectors, v)
	}
	return out, nil
}

type models struct{ e provider.Embedder }

func (m models) Embedder(arn string) (provider.Embedder, string, int, error) {
	if !strings.Contains(arn, "embed") {
		return nil, "", 0, errors.New("not an embedding model")
	}
	return m.e, "bow", 64, nil
}
func (m models) Chat(string) (provider.Adapter, string, error) { return nil, "", errors.New("no chat") }

type env struct {
	t      *testing.T
	dir    string
	db     func() (testStore, error) // opens the store (stores)
	store  testStore
	svc    *kb.Service
	emb    *bowEmbedder
	bucket string
	ann    int // kb.Options.ANNMinChunks
}

func newEnv(t *testing.T) *env { return newEnvOpts(t, 0) }

// newEnvOpts is newEnv with an ANN index from ann chunks.
func newEnvOpts(t *testing.T, ann int) *env { return newEnvStore(t, ann, stores[0].newDB(t)) }

// newEnvStore is newEnvOpts on the store that db opens.
func newEnvStore(t *testing.T, ann int, db func() (testStore, error)) *env {
	e := &env{t: t, dir: t.TempDir(), db: db, emb: &bowEmbedder{}, ann: ann}
	e.bucket = filepath.Join(e.dir, "buckets", "docs")
	if err := os.MkdirAll(e.bucket, 0o755); err != nil {
		t.Fatal(err)
	}
	e.open()
	t.Cleanup(func() { e.close() })
	return e
}

func (e *env) open() {
	st := mustOpen(e.t, e.db)
	e.store = st
	e.svc = kb.New(kb.Options{Store: st, Models: models{e.emb}, Region: "us-east-1", AccountID: "000000000000", EmbedBatch: 2, ANNMinChunks: e.ann,
		Crawler: webcrawl.New(nil),
		OpenBucket: func(ctx context.Context, name string) (*blob.Bucket, error) {
			return fileblob.OpenBucket(filepath.Join(e.dir, "buckets", name), nil)
		}})
	if err := e.svc.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) close() {
	if e.svc != nil {
		e.svc.Close()
		e.store.Close()
		e.svc = nil
	}
}

func (e *env) write(name, content string) {
	p := filepath.Join(e.bucket, name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) setup() (kb.KnowledgeBase, kb.DataSource) {
	ctx := context.Background()
	k, err := e.svc.CreateKnowledgeBase(ctx, kb.KnowledgeBase{Name: "kb", RoleARN: "arn:aws:iam::000000000000:role/x", EmbeddingModelARN: "arn:aws:bedrock:us-east-1::foundation-model/test.embed"})
	if err != nil {
		e.t.Fatal(err)
	}
	ds, err := e.svc.CreateDataSource(ctx, kb.DataSource{KBID: k.ID, Name: "docs", Type: kb.TypeS3, Bucket: "docs",
		Chunking: kb.Chunking{Strategy: "FIXED_SIZE", MaxTokens: 8, Overlap: 25}})
	if err != nil {
		e.t.Fatal(err)
	}
	return k, ds
}

func (e *env) wait(kbID, dsID, jobID string) kb.IngestionJob {
	e.t.Helper()
	for range 500 {
		j, err := e.svc.IngestionJob(context.Background(), kbID, dsID, jobID)
		if err != nil {
			e.t.Fatal(err)
		}
		if j.Finished() {
			return j
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatal("ingestion job did not finish")
	return kb.IngestionJob{}
}

func (e *env) sync(k kb.KnowledgeBase, ds kb.DataSource) kb.IngestionJob {
	e.t.Helper()
	j, err := e.svc.StartIngestionJob(context.Background(), k.ID, ds.ID, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return e.wait(k.ID, ds.ID, j.ID)
}

// chunkKeys returns doc#seq for every chunk, failing on duplicates.
func (e *env) chunkKeys(kbID string) map[string]string {
	e.t.Helper()
	cs, err := e.store.KBChunks(context.Background(), kbID)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range cs {
		k := fmt.Sprintf("%s#%d", c.DocID, c.Seq)
		if _, dup := out[k]; dup {
			e.t.Errorf("duplicate chunk %s", k)
		}
		out[k] = c.Text
	}
	return out
}

func TestIncrementalSync(t *testing.T) { forEachStore(t, testIncrementalSync) }

func testIncrementalSync(t *testing.T, newDB func() opener) {
	e := newEnvStore(t, 0, newDB())
	k, ds := e.setup()
	e.write("a.txt", "Alpha is the first letter of the Greek alphabet and it has a long history.")
	e.write("b.md", "# Beta\n\nBeta is the **second** letter.")
	e.write("c.csv", "name,color\napple,red\nbanana,yellow\n")
	e.write("c.csv.metadata.json", `{"metadataAttributes":{"year":2020,"tags":["fruit"]}}`)
	e.write("bad.bin", "\x00\x01")
	j := e.sync(k, ds)
	want := kb.Stats{Scanned: 4, MetadataScanned: 1, NewIndexed: 3, Failed: 1}
	if diff := cmp.Diff(want, j.Stats); diff != "" || j.Status != kb.JobComplete {
		t.Fatalf("first sync %s, stats (-want +got):\n%s", j.Status, diff)
	}
	embedded := e.emb.texts.Load()

	// Unchanged: nothing is embedded again.
	j = e.sync(k, ds)
	if diff := cmp.Diff(kb.Stats{Scanned: 4, MetadataScanned: 1, Failed: 1}, j.Stats); diff != "" {
		t.Errorf("second sync (-want +got):\n%s", diff)
	}
	if n := e.emb.texts.Load(); n != embedded {
		t.Errorf("unchanged sync embedded %d texts", n-embedded)
	}

	// Edit one, delete one, change only metadata of one.
	e.write("a.txt", "Alpha was edited.")
	os.Remove(filepath.Join(e.bucket, "b.md"))
	e.write("c.csv.metadata.json", `{"metadataAttributes":{"year":2021,"tags":["fruit"]}}`)
	before := e.emb.texts.Load()
	j = e.sync(k, ds)
	if diff := cmp.Diff(kb.Stats{Scanned: 3, MetadataScanned: 1, ModifiedIndexed: 1, MetadataModified: 1, Deleted: 1, Failed: 1}, j.Stats); diff != "" {
		t.Errorf("third sync (-want +got):\n%s", diff)
	}
	if n := e.emb.texts.Load() - before; n != 1 {
		t.Errorf("edit embedded %d texts, want 1", n)
	}
	got := e.chunkKeys(k.ID)
	if got["s3://docs/a.txt#0"] != "Alpha was edited." || got["s3://docs/b.md#0"] != "" {
		t.Errorf("chunks after edit: %v", got)
	}
	res, err := e.svc.Retrieve(context.Background(), kb.Query{KBID: k.ID, Text: "banana color",
		Filter: &vector.Filter{Op: "equals", Key: "year", Value: 2021.0}})
	if err != nil || len(res) == 0 || res[0].DocID != "s3://docs/c.csv" {
		t.Fatalf("retrieve after metadata change: %v %v", res, err)
	}
}

// TestResumeAfterRestart closes the store in the middle of a job and
// reopens it: the job resumes and the index has every chunk exactly once.
func TestResumeAfterRestart(t *testing.T) { forEachStore(t, testResumeAfterRestart) }

func testResumeAfterRestart(t *testing.T, newDB func() opener) {
	e := newEnvStore(t, 0, newDB())
	k, ds := e.setup()
	for i := range 12 {
		e.write(fmt.Sprintf("doc%02d.txt", i), strings.Repeat(fmt.Sprintf("word%d ", i), 20))
	}
	// Reference: what a clean run indexes.
	ref := newEnvStore(t, 0, newDB())
	rk, rds := ref.setup()
	for i := range 12 {
		ref.write(fmt.Sprintf("doc%02d.txt", i), strings.Repeat(fmt.Sprintf("word%d ", i), 20))
	}
	rj := ref.sync(rk, rds)
	want := ref.chunkKeys(rk.ID)

	crashed := make(chan struct{})
	e.emb.failAfter = 14 // partway through the fourth document
	e.emb.onFail = func() {
		select {
		case <-crashed:
		default:
			close(crashed)
		}
	}
	j, err := e.svc.StartIngestionJob(context.Background(), k.ID, ds.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	<-crashed
	e.close() // cancels the job mid-document, like a kill
	mid, _ := func() (kb.IngestionJob, error) {
		st := mustOpen(t, e.db)
		defer st.Close()
		return st.IngestionJob(context.Background(), k.ID, ds.ID, j.ID)
	}()
	if mid.Finished() || mid.Stats.NewIndexed == 0 || mid.Stats.NewIndexed >= 12 {
		t.Fatalf("after the crash the job is %s with %+v; want unfinished, partly done", mid.Status, mid.Stats)
	}
	e.emb.failAfter = 0
	e.open() // resumes
	j = e.wait(k.ID, ds.ID, j.ID)
	if diff := cmp.Diff(rj.Stats, j.Stats); diff != "" || j.Status != kb.JobComplete {
		t.Errorf("resumed job %s, stats (-clean +resumed):\n%s", j.Status, diff)
	}
	if diff := cmp.Diff(want, e.chunkKeys(k.ID)); diff != "" {
		t.Errorf("index after resume (-clean +resumed):\n%s", diff)
	}
	t.Logf("crashed after %d of 12 documents", mid.Stats.NewIndexed)
}

// TestHierarchicalSync indexes a bucket with HIERARCHICAL chunking and
// checks that retrieval returns parents, and still does after a change to
// a document's metadata only (which rewrites chunk metadata, not vectors).
func TestHierarchicalSync(t *testing.T) { forEachStore(t, testHierarchicalSync) }

func testHierarchicalSync(t *testing.T, newDB func() opener) {
	e := newEnvStore(t, 0, newDB())
	ctx := context.Background()
	k, err := e.svc.CreateKnowledgeBase(ctx, kb.KnowledgeBase{Name: "kb", RoleARN: "arn:aws:iam::000000000000:role/x", EmbeddingModelARN: "arn:aws:bedrock:us-east-1::foundation-model/test.embed"})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := e.svc.CreateDataSource(ctx, kb.DataSource{KBID: k.ID, Name: "docs", Type: kb.TypeS3, Bucket: "docs",
		Chunking: kb.Chunking{Strategy: kb.ChunkHierarchical, ParentMaxTokens: 12, ChildMaxTokens: 4, OverlapTokens: 1}})
	if err != nil {
		t.Fatal(err)
	}
	e.write("a.txt", "one two three four five six seven eight nine ten eleven twelve zebra quokka wombat")
	e.write("a.txt.metadata.json", `{"metadataAttributes":{"v":1}}`)
	check := func(when string) {
		t.Helper()
		res, err := e.svc.Retrieve(ctx, kb.Query{KBID: k.ID, Text: "seven eight", N: 10, SearchType: kb.SearchSemantic})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range res {
			got = append(got, r.Text)
			if _, ok := r.Meta["x-outcrop-kb-parent-text"]; ok {
				t.Errorf("%s: internal metadata returned", when)
			}
		}
		want := []string{"one two three four five six seven eight nine ten eleven twelve", "twelve zebra quokka wombat"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: retrieved (-want +got):\n%s", when, diff)
		}
	}
	if j := e.sync(k, ds); j.Stats.NewIndexed != 1 {
		t.Fatalf("sync: %+v %v", j.Stats, j.FailureReasons)
	}
	check("after the first sync")
	e.write("a.txt.metadata.json", `{"metadataAttributes":{"v":2}}`)
	if j := e.sync(k, ds); j.Stats.MetadataModified != 1 {
		t.Fatalf("metadata sync: %+v", j.Stats)
	}
	check("after a metadata change")
}
