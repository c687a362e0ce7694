package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	at "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	rtt "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/outcroptest"
)

// TestTracesKnowledgeBase traces Retrieve and RetrieveAndGenerate on the
// built-in engine (real weights): the query's embedding and the answer are
// backend call spans under the operation's server span, with the engine's
// phases under them, as for runtime invocations, and they are counted in
// the models' invocation metrics.
func TestTracesKnowledgeBase(t *testing.T) {
	clearOTelEnv(t)
	dir := realModelsDir(t)
	rc := newOTLPReceiver(t)
	def, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	opts := localServerOptions(dir, def)
	serveLocal := opts.Mutate
	opts.Mutate = func(c *config.Config) {
		serveLocal(c)
		c.Telemetry = config.Telemetry{OTLPEndpoint: rc.URL}
	}
	srv := outcroptest.NewServer(t, opts)
	ctx := context.Background()
	creds := credentials.NewStaticCredentialsProvider(srv.Key.ID, srv.Key.Secret, "")
	ag := bedrockagent.New(bedrockagent.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: creds,
		HTTPClient: &http.Client{Transport: outcroptest.BodyCopyTransport{}}, RetryMaxAttempts: 1})
	rt := bedrockagentruntime.New(bedrockagentruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: creds,
		HTTPClient:       &http.Client{Transport: traceparentTransport{"00-" + clientTraceID + "-" + clientSpanID + "-01"}},
		RetryMaxAttempts: 1})

	kbOut, err := ag.CreateKnowledgeBase(ctx, &bedrockagent.CreateKnowledgeBaseInput{
		Name: aws.String("traced"), RoleArn: aws.String("arn:aws:iam::000000000000:role/kb"),
		KnowledgeBaseConfiguration: &at.KnowledgeBaseConfiguration{Type: at.KnowledgeBaseTypeVector,
			VectorKnowledgeBaseConfiguration: &at.VectorKnowledgeBaseConfiguration{EmbeddingModelArn: aws.String("arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	kbID := kbOut.KnowledgeBase.KnowledgeBaseId
	ds, err := ag.CreateDataSource(ctx, &bedrockagent.CreateDataSourceInput{KnowledgeBaseId: kbID, Name: aws.String("direct"),
		DataSourceConfiguration: &at.DataSourceConfiguration{Type: at.DataSourceTypeCustom}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ag.IngestKnowledgeBaseDocuments(ctx, &bedrockagent.IngestKnowledgeBaseDocumentsInput{KnowledgeBaseId: kbID, DataSourceId: ds.DataSource.DataSourceId,
		Documents: []at.KnowledgeBaseDocument{{Content: &at.DocumentContent{DataSourceType: at.ContentDataSourceTypeCustom, Custom: &at.CustomContent{
			CustomDocumentIdentifier: &at.CustomDocumentIdentifier{Id: aws.String("note-1")}, SourceType: at.CustomSourceTypeInLine,
			InlineContent: &at.InlineContent{Type: at.InlineContentTypeText, TextContent: &at.TextContentDoc{Data: aws.String("The office plant Gerald is watered every Thursday.")}}}}}},
	}); err != nil {
		t.Fatal(err)
	}
	query := &rtt.KnowledgeBaseQuery{Text: aws.String("When is Gerald watered?")}
	if _, err := rt.Retrieve(ctx, &bedrockagentruntime.RetrieveInput{KnowledgeBaseId: kbID, RetrievalQuery: query}); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.RetrieveAndGenerate(ctx, &bedrockagentruntime.RetrieveAndGenerateInput{
		Input: &rtt.RetrieveAndGenerateInput{Text: query.Text},
		RetrieveAndGenerateConfiguration: &rtt.RetrieveAndGenerateConfiguration{Type: rtt.RetrieveAndGenerateTypeKnowledgeBase,
			KnowledgeBaseConfiguration: &rtt.KnowledgeBaseRetrieveAndGenerateConfiguration{KnowledgeBaseId: kbID,
				ModelArn: aws.String("arn:aws:bedrock:us-east-1::foundation-model/" + smolModel),
				GenerationConfiguration: &rtt.GenerationConfiguration{InferenceConfig: &rtt.InferenceConfig{
					TextInferenceConfig: &rtt.TextInferenceConfig{MaxTokens: aws.Int32(8), Temperature: aws.Float32(0)}}}}},
	}); err != nil {
		t.Fatal(err)
	}
	waitSpans(t, srv, rc, "bedrock-agent-runtime.Retrieve", "bedrock-agent-runtime.RetrieveAndGenerate", "engine.decode")

	spans, _ := rc.received()
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byID[hexID(s.SpanId)] = s
	}
	// For each span under an agent-runtime server span: its path of names.
	var got []string
	for _, s := range spans {
		path := []string{}
		for p := s; p != nil; p = byID[hexID(p.ParentSpanId)] {
			name := p.Name
			if i := strings.IndexByte(name, ' '); i > 0 && !strings.HasPrefix(name, "HTTP") {
				name = name[:i] // "chat {model}" → "chat"
			}
			path = append([]string{name}, path...)
		}
		if strings.HasPrefix(path[0], "bedrock-agent-runtime.") && len(path) > 1 {
			got = append(got, strings.Join(path, " > "))
		}
	}
	want := []string{
		"bedrock-agent-runtime.Retrieve > embeddings",
		"bedrock-agent-runtime.Retrieve > embeddings > engine.embed",
		"bedrock-agent-runtime.Retrieve > embeddings > engine.queue",
		"bedrock-agent-runtime.RetrieveAndGenerate > chat",
		"bedrock-agent-runtime.RetrieveAndGenerate > chat > engine.decode",
		"bedrock-agent-runtime.RetrieveAndGenerate > chat > engine.prefill",
		"bedrock-agent-runtime.RetrieveAndGenerate > chat > engine.queue",
		"bedrock-agent-runtime.RetrieveAndGenerate > chat > engine.tokenize",
		"bedrock-agent-runtime.RetrieveAndGenerate > embeddings",
		"bedrock-agent-runtime.RetrieveAndGenerate > embeddings > engine.embed",
		"bedrock-agent-runtime.RetrieveAndGenerate > embeddings > engine.queue",
	}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("knowledge-base span tree (-want +got):\n%s", diff)
	}
	// The same calls count in the models' invocation metrics: the
	// document's embedding at ingestion, one query embedding per call, one
	// generation.
	m := scrape(t, srv.URL)
	for _, want := range []string{
		`outcrop_model_invocations_total{model_id="amazon.titan-embed-text-v2:0",outcome="success"} 3`,
		`outcrop_model_invocations_total{model_id="` + smolModel + `",outcome="success"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, s := range spans {
		if strings.HasPrefix(s.Name, "embeddings ") && hexID(s.TraceId) == clientTraceID {
			a := attrs(s, "gen_ai.request.model", "outcrop.backend", "gen_ai.usage.input_tokens")
			if a["outcrop.backend"] != "local" || a["gen_ai.request.model"] == "" || a["gen_ai.usage.input_tokens"] == "0" {
				t.Errorf("embedding span attributes %v", a)
			}
		}
	}
}
