package kb_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/outcrop/outcrop/internal/engine/weightstest"
	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/local"
	"github.com/outcrop/outcrop/internal/store/sqlite"
)

// timedEmbedder adds up the wall time spent in Embed.
type timedEmbedder struct {
	e     provider.Embedder
	ns    atomic.Int64
	texts atomic.Int64
}

func (t *timedEmbedder) Embed(ctx context.Context, r *provider.EmbedRequest) (*provider.EmbedResponse, error) {
	start := time.Now()
	resp, err := t.e.Embed(ctx, r)
	t.ns.Add(int64(time.Since(start)))
	t.texts.Add(int64(len(r.Texts)))
	return resp, err
}

type namedModels struct {
	e     provider.Embedder
	model string
	dim   int
}

func (m namedModels) Embedder(string) (provider.Embedder, string, int, error) {
	return m.e, m.model, m.dim, nil
}
func (m namedModels) Chat(string) (provider.Adapter, string, error) {
	return nil, "", fmt.Errorf("no chat")
}

// miniLM returns the built-in engine with the real all-MiniLM-L6-v2 loaded
// (2 threads), closed when b ends, so that loading stays outside the
// measurement.
func miniLM(b *testing.B) *local.Adapter {
	b.Helper()
	weightstest.Path(b, "all-MiniLM-L6-v2/model.safetensors")
	a, err := local.New(json.RawMessage(`{"threads":2}`), provider.Env{ModelsDir: weightstest.Dir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	if _, err := a.Embed(context.Background(), &provider.EmbedRequest{Model: "all-MiniLM-L6-v2", Texts: []string{"warm up"}}); err != nil {
		b.Fatal(err)
	}
	return a
}

// BenchmarkIngestMiniLM syncs a bucket of plain-text documents (sentences
// of bench/embed/sentences.txt in shuffled order, about 1,500 words each)
// into a knowledge base embedding with the real built-in MiniLM on 2
// threads, with Bedrock's default chunking (300 words, 20% overlap;
// $OUTCROP_KB_BENCH_MAXTOKENS changes it). It reports chunks/s of the whole
// ingestion job and the share of its wall time spent in Embed. Needs the
// weights (scripts/fetch-models.sh); run it with -benchtime 1x.
func BenchmarkIngestMiniLM(b *testing.B) {
	weightstest.Path(b, "all-MiniLM-L6-v2/model.safetensors")
	raw, err := os.ReadFile("../../bench/embed/sentences.txt")
	if err != nil {
		b.Fatal(err)
	}
	sentences := strings.Split(strings.TrimSpace(string(raw)), "\n")
	docs, words := 12, 1500
	if v, err := strconv.Atoi(os.Getenv("OUTCROP_KB_BENCH_DOCS")); err == nil {
		docs = v
	}
	maxTokens := 300
	if v, err := strconv.Atoi(os.Getenv("OUTCROP_KB_BENCH_MAXTOKENS")); err == nil {
		maxTokens = v
	}
	a := miniLM(b)
	ctx := context.Background()
	for b.Loop() {
		dir := b.TempDir()
		bucket := filepath.Join(dir, "buckets", "docs")
		if err := os.MkdirAll(bucket, 0o755); err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 1))
		for d := range docs {
			var sb strings.Builder
			for n := 0; n < words; {
				s := sentences[rng.IntN(len(sentences))]
				sb.WriteString(s)
				sb.WriteByte(' ')
				n += len(strings.Fields(s))
			}
			if err := os.WriteFile(filepath.Join(bucket, fmt.Sprintf("doc%03d.txt", d)), []byte(sb.String()), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		st, err := sqlite.Open(ctx, filepath.Join(dir, "db"))
		if err != nil {
			b.Fatal(err)
		}
		te := &timedEmbedder{e: a}
		svc := kb.New(kb.Options{Store: st, Models: namedModels{te, "all-MiniLM-L6-v2", 384},
			OpenBucket: func(ctx context.Context, name string) (*blob.Bucket, error) {
				return fileblob.OpenBucket(filepath.Join(dir, "buckets", name), nil)
			}})
		k, err := svc.CreateKnowledgeBase(ctx, kb.KnowledgeBase{Name: "ingest", RoleARN: "arn:aws:iam::000000000000:role/x", EmbeddingModelARN: "minilm"})
		if err != nil {
			b.Fatal(err)
		}
		ds, err := svc.CreateDataSource(ctx, kb.DataSource{KBID: k.ID, Name: "docs", Type: kb.TypeS3, Bucket: "docs",
			Chunking: kb.Chunking{Strategy: kb.ChunkFixedSize, MaxTokens: maxTokens, Overlap: 20}})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		j, err := svc.StartIngestionJob(ctx, k.ID, ds.ID, "")
		if err != nil {
			b.Fatal(err)
		}
		for !j.Finished() {
			time.Sleep(20 * time.Millisecond)
			if j, err = svc.IngestionJob(ctx, k.ID, ds.ID, j.ID); err != nil {
				b.Fatal(err)
			}
		}
		wall := time.Since(start)
		if j.Status != kb.JobComplete || j.Stats.NewIndexed != int64(docs) {
			b.Fatalf("job %s: %+v %v", j.Status, j.Stats, j.FailureReasons)
		}
		chunks, err := st.KBChunks(ctx, k.ID)
		if err != nil {
			b.Fatal(err)
		}
		embed := time.Duration(te.ns.Load())
		b.ReportMetric(float64(len(chunks)), "chunks")
		b.ReportMetric(float64(len(chunks))/wall.Seconds(), "chunks/s")
		b.ReportMetric(float64(te.texts.Load())/embed.Seconds(), "embedded_texts/s_in_Embed")
		b.ReportMetric(embed.Seconds()/wall.Seconds(), "embed_share")
		b.ReportMetric(wall.Seconds(), "job_s")
		svc.Close()
		st.Close()
	}
}
