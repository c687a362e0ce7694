package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	at "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/engine/weightstest"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/store/sqlite"
)

// The test binary doubles as the server for tests that must kill a real
// process: with OUTCROP_TEST_SERVE set to a JSON list of arguments, it runs
// `outcrop` with them instead of the tests.
func TestMain(m *testing.M) {
	if a := os.Getenv("OUTCROP_TEST_SERVE"); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			fmt.Fprintln(os.Stderr, "OUTCROP_TEST_SERVE:", err)
			os.Exit(2)
		}
		os.Args = append([]string{"outcrop"}, args...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serverProcess is `outcrop serve` running in a child process.
type serverProcess struct {
	cmd *exec.Cmd
	url string
}

// startServer runs `outcrop serve` on dataDir in a child process (this test
// binary, see TestMain) and waits until it answers.
func startServer(t *testing.T, dataDir string) *serverProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	args, _ := json.Marshal([]string{"serve", "--data-dir", dataDir, "--models-dir", weightstest.Dir(),
		"--listen", addr, "--auth-mode", "any", "--log-level", "warn"})
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "OUTCROP_TEST_SERVE="+string(args))
	log, err := os.OpenFile(filepath.Join(dataDir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProcess{cmd: cmd, url: "http://" + addr}
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dataDir, "server.log"))
			t.Fatalf("server did not start: %v\n%s", err, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the server with SIGKILL: no shutdown code runs.
func (p *serverProcess) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

// TestKBIngestionSurvivesKill starts a real server process, ingests a
// folder into a knowledge base with the built-in MiniLM embeddings, kills
// the process with SIGKILL in the middle of the job, and starts it again on
// the same data directory: the job resumes by itself and completes with the
// statistics of an uninterrupted run, and the index holds exactly the
// chunks that an uninterrupted ingestion of the same folder into a second
// knowledge base produces — no duplicates, no gaps.
func TestKBIngestionSurvivesKill(t *testing.T) {
	if outcroptest.RaceEnabled() {
		// The child server is this binary: under the race detector MiniLM
		// embeds a chunk in seconds. scripts/test.sh runs this test again
		// without -race.
		t.Skip("runs without -race (scripts/test.sh)")
	}
	weightstest.Path(t, "all-MiniLM-L6-v2/model.safetensors")
	const docs = 12
	dataDir := t.TempDir()
	bucket := filepath.Join(dataDir, "buckets", "killdocs")
	if err := os.MkdirAll(bucket, 0o700); err != nil {
		t.Fatal(err)
	}
	words := strings.Fields("granite river lantern harbour orchard meadow copper falcon willow ember glacier thistle marble beacon cedar quartz")
	for i := range docs {
		var b strings.Builder
		fmt.Fprintf(&b, "Document %d is about the %s of the %s.", i, words[i%len(words)], words[(i*7+3)%len(words)])
		for s := range 10 {
			fmt.Fprintf(&b, " Sentence %d of document %d mentions the %s near the %s.", s, i, words[(i+s)%len(words)], words[(i*3+s*5)%len(words)])
		}
		writeFile(t, bucket, fmt.Sprintf("doc%02d.txt", i), b.String())
	}

	srv := startServer(t, dataDir)
	ctx := context.Background()
	client := func(url string) *bedrockagent.Client {
		return bedrockagent.New(bedrockagent.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
	}
	ag := client(srv.url)
	create := func(name string) (kbID, dsID string) {
		t.Helper()
		kbOut, err := ag.CreateKnowledgeBase(ctx, &bedrockagent.CreateKnowledgeBaseInput{
			Name: aws.String(name), RoleArn: aws.String("arn:aws:iam::000000000000:role/kb"),
			KnowledgeBaseConfiguration: &at.KnowledgeBaseConfiguration{Type: at.KnowledgeBaseTypeVector,
				VectorKnowledgeBaseConfiguration: &at.VectorKnowledgeBaseConfiguration{EmbeddingModelArn: aws.String("arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		dsOut, err := ag.CreateDataSource(ctx, &bedrockagent.CreateDataSourceInput{KnowledgeBaseId: kbOut.KnowledgeBase.KnowledgeBaseId, Name: aws.String("docs"),
			DataSourceConfiguration: &at.DataSourceConfiguration{Type: at.DataSourceTypeS3, S3Configuration: &at.S3DataSourceConfiguration{BucketArn: aws.String("arn:aws:s3:::killdocs")}},
			VectorIngestionConfiguration: &at.VectorIngestionConfiguration{ChunkingConfiguration: &at.ChunkingConfiguration{ChunkingStrategy: at.ChunkingStrategyFixedSize,
				FixedSizeChunkingConfiguration: &at.FixedSizeChunkingConfiguration{MaxTokens: aws.Int32(40), OverlapPercentage: aws.Int32(20)}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return *kbOut.KnowledgeBase.KnowledgeBaseId, *dsOut.DataSource.DataSourceId
	}
	kbID, dsID := create("killed")
	start, err := ag.StartIngestionJob(ctx, &bedrockagent.StartIngestionJobInput{KnowledgeBaseId: &kbID, DataSourceId: &dsID})
	if err != nil {
		t.Fatal(err)
	}
	jobID := start.IngestionJob.IngestionJobId
	getJob := func(ag *bedrockagent.Client) *at.IngestionJob {
		t.Helper()
		out, err := ag.GetIngestionJob(ctx, &bedrockagent.GetIngestionJobInput{KnowledgeBaseId: &kbID, DataSourceId: &dsID, IngestionJobId: jobID})
		if err != nil {
			t.Fatal(err)
		}
		return out.IngestionJob
	}
	// Kill once some documents are indexed and others are not.
	var done int64
	for deadline := time.Now().Add(2 * time.Minute); ; {
		j := getJob(ag)
		if j.Statistics != nil {
			done = j.Statistics.NumberOfNewDocumentsIndexed
		}
		if j.Status == at.IngestionJobStatusComplete || j.Status == at.IngestionJobStatusFailed {
			t.Fatalf("the job ended (%s, %d documents) before it could be killed; make the folder larger", j.Status, done)
		}
		if done >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress after 2 minutes: %+v", j)
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.kill()
	t.Logf("killed the server with %d of %d documents indexed", done, docs)

	srv = startServer(t, dataDir)
	ag = client(srv.url)
	var j *at.IngestionJob
	for deadline := time.Now().Add(5 * time.Minute); ; {
		j = getJob(ag)
		if j.Status == at.IngestionJobStatusComplete || j.Status == at.IngestionJobStatusFailed || j.Status == at.IngestionJobStatusStopped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job did not finish after the restart: %+v", j)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s := j.Statistics
	if j.Status != at.IngestionJobStatusComplete || s.NumberOfDocumentsScanned != docs || s.NumberOfNewDocumentsIndexed != docs ||
		s.NumberOfModifiedDocumentsIndexed != 0 || s.NumberOfDocumentsFailed != 0 || s.NumberOfDocumentsDeleted != 0 {
		t.Errorf("resumed job: status %s, statistics %+v", j.Status, *s)
	}

	// An uninterrupted ingestion of the same folder, for comparison.
	cleanKB, cleanDS := create("clean")
	if _, err := ag.StartIngestionJob(ctx, &bedrockagent.StartIngestionJobInput{KnowledgeBaseId: &cleanKB, DataSourceId: &cleanDS}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Minute); ; {
		out, err := ag.ListIngestionJobs(ctx, &bedrockagent.ListIngestionJobsInput{KnowledgeBaseId: &cleanKB, DataSourceId: &cleanDS})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.IngestionJobSummaries) == 1 && out.IngestionJobSummaries[0].Status == at.IngestionJobStatusComplete {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the clean job did not finish: %+v", out.IngestionJobSummaries)
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv.kill()

	st, err := sqlite.Open(ctx, filepath.Join(dataDir, "outcrop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	chunks := func(kbID string) []string {
		t.Helper()
		cs, err := st.KBChunks(ctx, kbID)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range cs {
			if len(c.Vector) != 384 {
				t.Errorf("chunk %d of %s has %d dimensions", c.ID, c.DocID, len(c.Vector))
			}
			out = append(out, fmt.Sprintf("%v #%d %s", c.Meta["x-amz-bedrock-kb-source-uri"], c.Seq, c.Text))
		}
		sort.Strings(out)
		return out
	}
	killed, clean := chunks(kbID), chunks(cleanKB)
	if len(clean) < docs {
		t.Fatalf("the clean run has %d chunks for %d documents", len(clean), docs)
	}
	if diff := cmp.Diff(clean, killed); diff != "" {
		t.Errorf("chunks after the kill and resume differ from an uninterrupted run (-clean +killed):\n%s", diff)
	}
	t.Logf("%d chunks in both knowledge bases", len(clean))
}
