package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	at "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/document"
	rtt "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"
	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/outcroptest"
)

func agentClients(srv *outcroptest.Server) (*bedrockagent.Client, *bedrockagentruntime.Client) {
	creds := credentials.NewStaticCredentialsProvider(srv.Key.ID, srv.Key.Secret, "")
	hc := &http.Client{Transport: outcroptest.BodyCopyTransport{}}
	return bedrockagent.New(bedrockagent.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: creds, HTTPClient: hc, RetryMaxAttempts: 1}),
		bedrockagentruntime.New(bedrockagentruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: creds, HTTPClient: hc, RetryMaxAttempts: 1})
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755)
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func syncDS(t *testing.T, ag *bedrockagent.Client, kbID, dsID string) *at.IngestionJob {
	t.Helper()
	ctx := context.Background()
	st, err := ag.StartIngestionJob(ctx, &bedrockagent.StartIngestionJobInput{KnowledgeBaseId: &kbID, DataSourceId: &dsID})
	if err != nil {
		t.Fatal(err)
	}
	for range 600 {
		j, err := ag.GetIngestionJob(ctx, &bedrockagent.GetIngestionJobInput{KnowledgeBaseId: &kbID, DataSourceId: &dsID, IngestionJobId: st.IngestionJob.IngestionJobId})
		if err != nil {
			t.Fatal(err)
		}
		switch j.IngestionJob.Status {
		case at.IngestionJobStatusComplete:
			return j.IngestionJob
		case at.IngestionJobStatusFailed, at.IngestionJobStatusStopped:
			t.Fatalf("ingestion job %s: %v", j.IngestionJob.Status, j.IngestionJob.FailureReasons)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("ingestion job did not finish")
	return nil
}

func docOf(r rtt.KnowledgeBaseRetrievalResult) string {
	if r.Location != nil && r.Location.S3Location != nil {
		return strings.TrimPrefix(*r.Location.S3Location.Uri, "s3://evaldocs/")
	}
	return ""
}

// TestKnowledgeBaseLocal builds a knowledge base over the committed
// evaluation folder with the built-in MiniLM embeddings, through the real
// bedrock-agent and bedrock-agent-runtime clients.
func TestKnowledgeBaseLocal(t *testing.T) { testKnowledgeBase(t, newLocalServer(t), true) }

// testKnowledgeBase is TestKnowledgeBaseLocal on srv; rag runs
// RetrieveAndGenerate too.
func testKnowledgeBase(t *testing.T, srv *outcroptest.Server, rag bool) {
	ag, rt := agentClients(srv)
	ctx := context.Background()
	copyDir(t, "testdata/kb/docs", filepath.Join(srv.Config.DataDir, "buckets", "evaldocs"))

	kbOut, err := ag.CreateKnowledgeBase(ctx, &bedrockagent.CreateKnowledgeBaseInput{
		Name: aws.String("eval"), RoleArn: aws.String("arn:aws:iam::000000000000:role/kb"),
		KnowledgeBaseConfiguration: &at.KnowledgeBaseConfiguration{Type: at.KnowledgeBaseTypeVector,
			VectorKnowledgeBaseConfiguration: &at.VectorKnowledgeBaseConfiguration{EmbeddingModelArn: aws.String("arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	kbID := *kbOut.KnowledgeBase.KnowledgeBaseId
	if kbOut.KnowledgeBase.Status != at.KnowledgeBaseStatusActive {
		t.Errorf("status %s", kbOut.KnowledgeBase.Status)
	}
	if _, err := ag.CreateKnowledgeBase(ctx, &bedrockagent.CreateKnowledgeBaseInput{Name: aws.String("eval"), RoleArn: aws.String("arn:aws:iam::000000000000:role/kb"),
		KnowledgeBaseConfiguration: kbOut.KnowledgeBase.KnowledgeBaseConfiguration}); err == nil || !strings.Contains(err.Error(), "ConflictException") {
		t.Errorf("duplicate name: %v", err)
	}
	if _, err := ag.GetKnowledgeBase(ctx, &bedrockagent.GetKnowledgeBaseInput{KnowledgeBaseId: aws.String("AAAAAAAAAA")}); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("unknown KB: %v", err)
	}
	dsOut, err := ag.CreateDataSource(ctx, &bedrockagent.CreateDataSourceInput{KnowledgeBaseId: &kbID, Name: aws.String("docs"),
		DataSourceConfiguration: &at.DataSourceConfiguration{Type: at.DataSourceTypeS3, S3Configuration: &at.S3DataSourceConfiguration{BucketArn: aws.String("arn:aws:s3:::evaldocs")}},
		VectorIngestionConfiguration: &at.VectorIngestionConfiguration{ChunkingConfiguration: &at.ChunkingConfiguration{ChunkingStrategy: at.ChunkingStrategyFixedSize,
			FixedSizeChunkingConfiguration: &at.FixedSizeChunkingConfiguration{MaxTokens: aws.Int32(60), OverlapPercentage: aws.Int32(20)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dsID := *dsOut.DataSource.DataSourceId

	start := time.Now()
	j := syncDS(t, ag, kbID, dsID)
	t.Logf("first sync took %v", time.Since(start))
	s := j.Statistics
	if s.NumberOfDocumentsScanned != 10 || s.NumberOfMetadataDocumentsScanned != 10 || s.NumberOfNewDocumentsIndexed != 10 || s.NumberOfDocumentsFailed != 0 {
		t.Fatalf("first sync statistics %+v", *s)
	}

	retrieve := func(q string, n int32, st rtt.SearchType, f rtt.RetrievalFilter) []rtt.KnowledgeBaseRetrievalResult {
		t.Helper()
		out, err := rt.Retrieve(ctx, &bedrockagentruntime.RetrieveInput{KnowledgeBaseId: &kbID, RetrievalQuery: &rtt.KnowledgeBaseQuery{Text: &q},
			RetrievalConfiguration: &rtt.KnowledgeBaseRetrievalConfiguration{VectorSearchConfiguration: &rtt.KnowledgeBaseVectorSearchConfiguration{
				NumberOfResults: aws.Int32(n), OverrideSearchType: st, Filter: f}}})
		if err != nil {
			t.Fatal(err)
		}
		return out.RetrievalResults
	}

	var questions []struct{ Q, Doc, Fact string }
	b, _ := os.ReadFile("testdata/kb/questions.json")
	if err := json.Unmarshal(b, &questions); err != nil {
		t.Fatal(err)
	}
	for _, st := range []rtt.SearchType{rtt.SearchTypeHybrid, rtt.SearchTypeSemantic} {
		hits := 0
		for _, q := range questions {
			found := false
			for _, r := range retrieve(q.Q, 5, st, nil) {
				if docOf(r) == q.Doc && strings.Contains(*r.Content.Text, q.Fact) {
					found = true
				}
			}
			if found {
				hits++
			} else {
				t.Logf("%s miss: %q", st, q.Q)
			}
		}
		recall := float64(hits) / float64(len(questions))
		t.Logf("recall@5 %s = %.3f (%d/%d)", st, recall, hits, len(questions))
		if st == rtt.SearchTypeHybrid && recall < 0.9 {
			t.Errorf("hybrid recall@5 = %.3f, want >= 0.9", recall)
		}
	}

	t.Run("filters", func(t *testing.T) {
		attr := func(k string, v any) *rtt.FilterAttribute {
			return &rtt.FilterAttribute{Key: aws.String(k), Value: document.NewLazyDocument(v)}
		}
		for _, tc := range []struct {
			name string
			f    rtt.RetrievalFilter
			want []string
		}{
			{"equals", &rtt.RetrievalFilterMemberEquals{Value: *attr("category", "history")}, []string{"history/canal.md", "history/guild.html", "history/lighthouse.txt"}},
			{"equals bool", &rtt.RetrievalFilterMemberEquals{Value: *attr("public", false)}, []string{"chess.txt", "history/guild.html"}},
			{"notEquals", &rtt.RetrievalFilterMemberNotEquals{Value: *attr("category", "science")}, []string{"chess.txt", "history/canal.md", "history/guild.html", "history/lighthouse.txt", "recipes.txt"}},
			{"greaterThan", &rtt.RetrievalFilterMemberGreaterThan{Value: *attr("year", 1928)}, []string{"chess.txt", "orbits.md", "science/moss.md"}},
			{"greaterThanOrEquals", &rtt.RetrievalFilterMemberGreaterThanOrEquals{Value: *attr("year", 1928)}, []string{"chess.txt", "orbits.md", "science/moss.md", "science/volcano.txt"}},
			{"lessThan", &rtt.RetrievalFilterMemberLessThan{Value: *attr("year", 1792)}, []string{"history/guild.html"}},
			{"lessThanOrEquals", &rtt.RetrievalFilterMemberLessThanOrEquals{Value: *attr("year", 1792)}, []string{"history/canal.md", "history/guild.html"}},
			{"in", &rtt.RetrievalFilterMemberIn{Value: *attr("region", []string{"west", "south"})}, []string{"history/canal.md", "recipes.txt", "science/bees.json", "science/elements.csv"}},
			{"notIn", &rtt.RetrievalFilterMemberNotIn{Value: *attr("region", []string{"north", "east"})}, []string{"history/canal.md", "recipes.txt", "science/bees.json", "science/elements.csv"}},
			{"startsWith", &rtt.RetrievalFilterMemberStartsWith{Value: *attr("category", "sci")}, []string{"orbits.md", "science/bees.json", "science/elements.csv", "science/moss.md", "science/volcano.txt"}},
			{"listContains", &rtt.RetrievalFilterMemberListContains{Value: *attr("tags", "engineering")}, []string{"history/canal.md", "history/lighthouse.txt"}},
			{"stringContains", &rtt.RetrievalFilterMemberStringContains{Value: *attr("tags", "bio")}, []string{"science/bees.json", "science/moss.md"}},
			{"andAll", &rtt.RetrievalFilterMemberAndAll{Value: []rtt.RetrievalFilter{
				&rtt.RetrievalFilterMemberEquals{Value: *attr("category", "science")},
				&rtt.RetrievalFilterMemberGreaterThan{Value: *attr("year", 1900)}}}, []string{"orbits.md", "science/moss.md", "science/volcano.txt"}},
			{"orAll", &rtt.RetrievalFilterMemberOrAll{Value: []rtt.RetrievalFilter{
				&rtt.RetrievalFilterMemberEquals{Value: *attr("public", false)},
				&rtt.RetrievalFilterMemberEquals{Value: *attr("region", "south")}}}, []string{"chess.txt", "history/canal.md", "history/guild.html", "recipes.txt"}},
		} {
			for _, st := range []rtt.SearchType{rtt.SearchTypeSemantic, rtt.SearchTypeHybrid} {
				seen := map[string]bool{}
				for _, r := range retrieve("history science facts", 100, st, tc.f) {
					seen[docOf(r)] = true
				}
				var got []string
				for d := range seen {
					got = append(got, d)
				}
				sort.Strings(got)
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s %s (-want +got):\n%s", tc.name, st, diff)
				}
			}
		}
	})

	t.Run("RetrieveAndGenerate", func(t *testing.T) {
		if !rag {
			t.Skip("retrieval is tested; generation does not depend on the store")
		}
		q := "Who designed the Harrowgate Lighthouse?"
		out, err := rt.RetrieveAndGenerate(ctx, &bedrockagentruntime.RetrieveAndGenerateInput{
			Input: &rtt.RetrieveAndGenerateInput{Text: &q},
			RetrieveAndGenerateConfiguration: &rtt.RetrieveAndGenerateConfiguration{Type: rtt.RetrieveAndGenerateTypeKnowledgeBase,
				KnowledgeBaseConfiguration: &rtt.KnowledgeBaseRetrieveAndGenerateConfiguration{KnowledgeBaseId: &kbID, ModelArn: aws.String(smolModel),
					RetrievalConfiguration:  &rtt.KnowledgeBaseRetrievalConfiguration{VectorSearchConfiguration: &rtt.KnowledgeBaseVectorSearchConfiguration{NumberOfResults: aws.Int32(3)}},
					GenerationConfiguration: &rtt.GenerationConfiguration{InferenceConfig: &rtt.InferenceConfig{TextInferenceConfig: &rtt.TextInferenceConfig{MaxTokens: aws.Int32(60), Temperature: aws.Float32(0)}}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		text := *out.Output.Text
		t.Logf("answer: %q, %d citations, session %s", text, len(out.Citations), *out.SessionId)
		if len(out.Citations) == 0 {
			t.Fatal("no citations")
		}
		for _, c := range out.Citations {
			p := c.GeneratedResponsePart.TextResponsePart
			start, end := int(*p.Span.Start), int(*p.Span.End)
			if end >= len(text) || text[start:end+1] != *p.Text {
				t.Errorf("span [%d,%d] does not hold %q", start, end, *p.Text)
			}
			if len(c.RetrievedReferences) == 0 {
				t.Errorf("citation of %q has no references", *p.Text)
			}
			// Every distinctive fact the span states is in a cited passage.
			for _, fact := range []string{"Okafor", "1847", "granite", "whale oil"} {
				if !strings.Contains(*p.Text, fact) {
					continue
				}
				ok := false
				for _, r := range c.RetrievedReferences {
					ok = ok || strings.Contains(*r.Content.Text, fact)
				}
				if !ok {
					t.Errorf("citation of %q states %q but no reference contains it", *p.Text, fact)
				}
			}
			for _, r := range c.RetrievedReferences {
				if r.Location == nil || r.Location.S3Location == nil || r.Metadata["x-amz-bedrock-kb-source-uri"] == nil {
					t.Errorf("reference without location or metadata: %+v", r)
				}
			}
		}
		follow := "When was it completed?"
		out2, err := rt.RetrieveAndGenerate(ctx, &bedrockagentruntime.RetrieveAndGenerateInput{SessionId: out.SessionId,
			Input: &rtt.RetrieveAndGenerateInput{Text: &follow},
			RetrieveAndGenerateConfiguration: &rtt.RetrieveAndGenerateConfiguration{Type: rtt.RetrieveAndGenerateTypeKnowledgeBase,
				KnowledgeBaseConfiguration: &rtt.KnowledgeBaseRetrieveAndGenerateConfiguration{KnowledgeBaseId: &kbID, ModelArn: aws.String(smolModel),
					GenerationConfiguration: &rtt.GenerationConfiguration{InferenceConfig: &rtt.InferenceConfig{TextInferenceConfig: &rtt.TextInferenceConfig{MaxTokens: aws.Int32(40), Temperature: aws.Float32(0)}}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if *out2.SessionId != *out.SessionId {
			t.Errorf("session %s, want %s", *out2.SessionId, *out.SessionId)
		}
		lighthouse := false
		for _, c := range out2.Citations {
			for _, r := range c.RetrievedReferences {
				lighthouse = lighthouse || strings.Contains(*r.Location.S3Location.Uri, "lighthouse")
			}
		}
		t.Logf("follow-up: %q (cites the lighthouse: %v)", *out2.Output.Text, lighthouse)
	})

	t.Run("resync", func(t *testing.T) {
		dir := filepath.Join(srv.Config.DataDir, "buckets", "evaldocs")
		os.WriteFile(filepath.Join(dir, "chess.txt"), []byte("The Corvina Opening was renamed the Varga Gambit in 1950 after its inventor Ilse Varga."), 0o644)
		os.Remove(filepath.Join(dir, "recipes.txt"))
		os.Remove(filepath.Join(dir, "recipes.txt.metadata.json"))
		j := syncDS(t, ag, kbID, dsID)
		s := j.Statistics
		if s.NumberOfDocumentsScanned != 9 || s.NumberOfModifiedDocumentsIndexed != 1 || s.NumberOfDocumentsDeleted != 1 || s.NumberOfNewDocumentsIndexed != 0 {
			t.Errorf("resync statistics %+v", *s)
		}
		for _, r := range retrieve("saffron bread rye flour", 5, rtt.SearchTypeHybrid, nil) {
			if docOf(r) == "recipes.txt" {
				t.Error("deleted document still retrieved")
			}
		}
		res := retrieve("What was the Corvina Opening renamed?", 1, rtt.SearchTypeHybrid, nil)
		if len(res) == 0 || !strings.Contains(*res[0].Content.Text, "Varga Gambit") {
			t.Errorf("edited document not retrieved: %+v", res)
		}
	})

	t.Run("custom documents", func(t *testing.T) {
		ds, err := ag.CreateDataSource(ctx, &bedrockagent.CreateDataSourceInput{KnowledgeBaseId: &kbID, Name: aws.String("direct"),
			DataSourceConfiguration: &at.DataSourceConfiguration{Type: at.DataSourceTypeCustom}})
		if err != nil {
			t.Fatal(err)
		}
		id := &at.DocumentIdentifier{DataSourceType: at.ContentDataSourceTypeCustom, Custom: &at.CustomDocumentIdentifier{Id: aws.String("note-1")}}
		in, err := ag.IngestKnowledgeBaseDocuments(ctx, &bedrockagent.IngestKnowledgeBaseDocumentsInput{KnowledgeBaseId: &kbID, DataSourceId: ds.DataSource.DataSourceId,
			Documents: []at.KnowledgeBaseDocument{{
				Content: &at.DocumentContent{DataSourceType: at.ContentDataSourceTypeCustom, Custom: &at.CustomContent{
					CustomDocumentIdentifier: id.Custom, SourceType: at.CustomSourceTypeInLine,
					InlineContent: &at.InlineContent{Type: at.InlineContentTypeText, TextContent: &at.TextContentDoc{Data: aws.String("The office plant Gerald is watered every Thursday.")}}}},
				Metadata: &at.DocumentMetadata{Type: at.MetadataSourceTypeInLineAttribute, InlineAttributes: []at.MetadataAttribute{{Key: aws.String("team"),
					Value: &at.MetadataAttributeValue{Type: at.MetadataValueTypeString, StringValue: aws.String("ops")}}}},
			}}})
		if err != nil {
			t.Fatal(err)
		}
		if in.DocumentDetails[0].Status != at.DocumentStatusIndexed {
			t.Fatalf("ingest status %s", in.DocumentDetails[0].Status)
		}
		res := retrieve("When is Gerald watered?", 1, rtt.SearchTypeHybrid, &rtt.RetrievalFilterMemberEquals{Value: rtt.FilterAttribute{Key: aws.String("team"), Value: document.NewLazyDocument("ops")}})
		if len(res) != 1 || res[0].Location.CustomDocumentLocation == nil || *res[0].Location.CustomDocumentLocation.Id != "note-1" {
			t.Fatalf("custom document not retrieved: %+v", res)
		}
		del, err := ag.DeleteKnowledgeBaseDocuments(ctx, &bedrockagent.DeleteKnowledgeBaseDocumentsInput{KnowledgeBaseId: &kbID, DataSourceId: ds.DataSource.DataSourceId, DocumentIdentifiers: []at.DocumentIdentifier{*id}})
		if err != nil || del.DocumentDetails[0].Status != at.DocumentStatusDeleting {
			t.Fatalf("delete: %v %+v", err, del)
		}
		get, err := ag.GetKnowledgeBaseDocuments(ctx, &bedrockagent.GetKnowledgeBaseDocumentsInput{KnowledgeBaseId: &kbID, DataSourceId: ds.DataSource.DataSourceId, DocumentIdentifiers: []at.DocumentIdentifier{*id}})
		if err != nil || get.DocumentDetails[0].Status != at.DocumentStatusNotFound {
			t.Fatalf("get after delete: %v %+v", err, get)
		}
	})

	list, err := ag.ListIngestionJobs(ctx, &bedrockagent.ListIngestionJobsInput{KnowledgeBaseId: &kbID, DataSourceId: &dsID})
	if err != nil || len(list.IngestionJobSummaries) != 2 {
		t.Errorf("ListIngestionJobs: %v %d", err, len(list.IngestionJobSummaries))
	}
	if _, err := ag.DeleteKnowledgeBase(ctx, &bedrockagent.DeleteKnowledgeBaseInput{KnowledgeBaseId: &kbID}); err != nil {
		t.Fatal(err)
	}
}
