package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	at "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/document"
	rtt "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/openai/openai-go/v3"

	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/converse"
	"github.com/outcrop/outcrop/internal/family/titanembed"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/provider"
	openaibackend "github.com/outcrop/outcrop/internal/provider/openai"
)

// rerankUpstream is a rerank server speaking the de-facto protocol as vLLM
// documents it (POST /v1/rerank {model, query, documents, top_n} →
// {id, model, usage, results: [{index, document: {text}, relevance_score}]}
// best first). A document's score is looked up by its first word.
type rerankUpstream struct {
	scores map[string]float64
	mu     sync.Mutex
	last   struct {
		Model     string   `json:"model"`
		Query     string   `json:"query"`
		Documents []string `json:"documents"`
		TopN      int      `json:"top_n"`
	}
}

func (u *rerankUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/rerank" {
		http.Error(w, `{"object":"error","message":"Not Found","type":"NotFoundError","code":404}`, http.StatusNotFound)
		return
	}
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.last.TopN = 0 // absent from the body means none
	if err := json.Unmarshal(b, &u.last); err != nil {
		http.Error(w, `{"object":"error","message":"bad body","type":"BadRequestError","code":400}`, http.StatusBadRequest)
		return
	}
	type res struct {
		Index    int `json:"index"`
		Document struct {
			Text string `json:"text"`
		} `json:"document"`
		Score float64 `json:"relevance_score"`
	}
	var out []res
	for i, d := range u.last.Documents {
		x := res{Index: i, Score: u.scores[strings.TrimSuffix(strings.Fields(d)[0], ":")]}
		x.Document.Text = d
		out = append(out, x)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	if n := u.last.TopN; n > 0 && n < len(out) {
		out = out[:n]
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"id": "rerank-1", "model": u.last.Model, "usage": map[string]int{"total_tokens": 99}, "results": out})
}

func (u *rerankUpstream) seen() (query string, docs []string, topN int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last.Query, append([]string(nil), u.last.Documents...), u.last.TopN
}

const (
	rerankARN        = "arn:aws:bedrock:us-east-1::foundation-model/amazon.rerank-v1:0"
	unservedRerank   = "arn:aws:bedrock:us-east-1::foundation-model/cohere.rerank-v3-5:0"
	rerankEmbedModel = "outcrop.echo-embed-rr-v1:0"
)

// rerankServer starts a server whose amazon.rerank-v1:0 is served by the
// openai backend kind pointed at a fake rerank server, and whose
// cohere.rerank-v3-5:0 sits on the echo backend, which does not rerank.
func rerankServer(t *testing.T) (*outcroptest.Server, *rerankUpstream) {
	up := &rerankUpstream{scores: map[string]float64{"alpha": 0.2, "bravo": 0.9, "charlie": 0.05, "delta": 0.7, "foxtrot": 0.01}}
	hs := httptest.NewServer(up)
	t.Cleanup(hs.Close)
	rerankCaps := catalog.Capabilities{Rerank: true}
	srv := outcroptest.NewServer(t, outcroptest.Options{
		Families: []family.Codec{converse.Codec{}, titanembed.V2{}},
		Extra:    []provider.Spec{openaibackend.Spec},
		Mutate: func(c *config.Config) {
			c.Backends["rr"] = config.Backend{Kind: "openai", Config: map[string]any{"baseURL": hs.URL + "/v1", "maxRetries": 0}}
		},
		Models: append([]catalog.Model{
			{ID: "amazon.rerank-v1:0", Backend: "rr", BackendModel: "BAAI/bge-reranker-v2-m3", Input: []string{"TEXT"}, Output: []string{"TEXT"}, Caps: rerankCaps},
			{ID: "cohere.rerank-v3-5:0", Backend: "echo", BackendModel: "echo", Input: []string{"TEXT"}, Output: []string{"TEXT"}, Caps: rerankCaps},
			{ID: rerankEmbedModel, Family: "titan-embed-v2", Backend: "echo", BackendModel: "echo", Input: []string{"TEXT"}, Output: []string{"EMBEDDING"}, Caps: catalog.Capabilities{Dimensions: 4}},
		}, outcroptest.EchoModels...),
	})
	return srv, up
}

// rerankKB creates a knowledge base of five one-chunk documents, ingested
// directly.
func rerankKB(t *testing.T, ag *bedrockagent.Client) string {
	t.Helper()
	ctx := context.Background()
	k, err := ag.CreateKnowledgeBase(ctx, &bedrockagent.CreateKnowledgeBaseInput{
		Name: aws.String("rerankkb"), RoleArn: aws.String("arn:aws:iam::000000000000:role/kb"),
		KnowledgeBaseConfiguration: &at.KnowledgeBaseConfiguration{Type: at.KnowledgeBaseTypeVector,
			VectorKnowledgeBaseConfiguration: &at.VectorKnowledgeBaseConfiguration{EmbeddingModelArn: aws.String("arn:aws:bedrock:us-east-1::foundation-model/" + rerankEmbedModel)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	kbID := k.KnowledgeBase.KnowledgeBaseId
	ds, err := ag.CreateDataSource(ctx, &bedrockagent.CreateDataSourceInput{KnowledgeBaseId: kbID, Name: aws.String("direct"),
		DataSourceConfiguration: &at.DataSourceConfiguration{Type: at.DataSourceTypeCustom}})
	if err != nil {
		t.Fatal(err)
	}
	var in []at.KnowledgeBaseDocument
	for id, text := range map[string]string{
		"a": "alpha: The lighthouse lamp burned whale oil until 1904.",
		"b": "bravo: Paraffin replaced the whale oil in the lamp.",
		"c": "charlie: The keeper's cottage had three rooms.",
		"d": "delta: Acetylene gas lit the lamp from 1911.",
		"f": "foxtrot: Bread was baked on Sundays.",
	} {
		in = append(in, at.KnowledgeBaseDocument{Content: &at.DocumentContent{DataSourceType: at.ContentDataSourceTypeCustom,
			Custom: &at.CustomContent{CustomDocumentIdentifier: &at.CustomDocumentIdentifier{Id: aws.String(id)}, SourceType: at.CustomSourceTypeInLine,
				InlineContent: &at.InlineContent{Type: at.InlineContentTypeText, TextContent: &at.TextContentDoc{Data: aws.String(text)}}}}})
	}
	if _, err := ag.IngestKnowledgeBaseDocuments(ctx, &bedrockagent.IngestKnowledgeBaseDocumentsInput{KnowledgeBaseId: kbID, DataSourceId: ds.DataSource.DataSourceId, Documents: in}); err != nil {
		t.Fatal(err)
	}
	return *kbID
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

func rerankConfig(arn string, n int32) *rtt.RerankingConfiguration {
	return &rtt.RerankingConfiguration{Type: rtt.RerankingConfigurationTypeBedrockRerankingModel,
		BedrockRerankingConfiguration: &rtt.BedrockRerankingConfiguration{NumberOfResults: aws.Int32(n),
			ModelConfiguration: &rtt.BedrockRerankingModelConfiguration{ModelArn: aws.String(arn)}}}
}

func textSource(s string) rtt.RerankSource {
	return rtt.RerankSource{Type: rtt.RerankSourceTypeInline, InlineDocumentSource: &rtt.RerankDocument{Type: rtt.RerankDocumentTypeText, TextDocument: &rtt.RerankTextDocument{Text: aws.String(s)}}}
}

// TestRerankSDK calls Rerank through aws-sdk-go-v2's bedrockagentruntime
// client: the order and scores are the reranker's, documents come back
// when asked, and errors are Bedrock's.
func TestRerankSDK(t *testing.T) {
	srv, up := rerankServer(t)
	_, rt := agentClients(srv)
	ctx := context.Background()
	query := []rtt.RerankQuery{{Type: rtt.RerankQueryContentTypeText, TextQuery: &rtt.RerankTextDocument{Text: aws.String("What replaced whale oil?")}}}
	sources := []rtt.RerankSource{
		textSource("alpha: whale oil"),
		{Type: rtt.RerankSourceTypeInline, InlineDocumentSource: &rtt.RerankDocument{Type: rtt.RerankDocumentTypeJson,
			JsonDocument: document.NewLazyDocument(map[string]any{"title": "bravo", "body": "paraffin"})}},
		textSource("delta: acetylene"),
	}

	cfg := rerankConfig(rerankARN, 2)
	cfg.BedrockRerankingConfiguration.ModelConfiguration.AdditionalModelRequestFields = map[string]document.Interface{"return_documents": document.NewLazyDocument(true)}
	out, err := rt.Rerank(ctx, &bedrockagentruntime.RerankInput{Queries: query, Sources: sources, RerankingConfiguration: cfg})
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		Index int32
		Score float32
		Doc   string
	}
	var gots []got
	for _, r := range out.Results {
		g := got{Index: aws.ToInt32(r.Index), Score: aws.ToFloat32(r.RelevanceScore)}
		if d := r.Document; d != nil && d.TextDocument != nil {
			g.Doc = aws.ToString(d.TextDocument.Text)
		} else if d != nil && d.JsonDocument != nil {
			var m map[string]any
			if err := d.JsonDocument.UnmarshalSmithyDocument(&m); err != nil {
				t.Fatal(err)
			}
			g.Doc = m["title"].(string)
		}
		gots = append(gots, g)
	}
	// The JSON document reaches the reranker as its JSON text, whose
	// first word is not a scored one: the upstream scores "{"title"…" 0.
	want := []got{{Index: 2, Score: 0.7, Doc: "delta: acetylene"}, {Index: 0, Score: 0.2, Doc: "alpha: whale oil"}}
	if d := cmp.Diff(want, gots); d != "" {
		t.Errorf("Rerank results (-want +got):\n%s", d)
	}
	q, docs, topN := up.seen()
	if wantDocs := []string{"alpha: whale oil", `{"body":"paraffin","title":"bravo"}`, "delta: acetylene"}; q != "What replaced whale oil?" || topN != 2 || !cmp.Equal(docs, wantDocs) {
		t.Errorf("upstream saw query %q, top_n %d, documents %q; want documents %q", q, topN, docs, wantDocs)
	}

	// Without return_documents there are no documents; without
	// numberOfResults every source comes back.
	cfg = rerankConfig(rerankARN, 1)
	cfg.BedrockRerankingConfiguration.NumberOfResults = nil
	out, err = rt.Rerank(ctx, &bedrockagentruntime.RerankInput{Queries: query, Sources: sources, RerankingConfiguration: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Results) != 3 || out.Results[0].Document != nil || aws.ToInt32(out.Results[0].Index) != 2 {
		t.Errorf("Rerank without numberOfResults: %d results, first %+v", len(out.Results), out.Results[0])
	}

	for _, tc := range []struct {
		name string
		in   *bedrockagentruntime.RerankInput
		want string
	}{
		{"more results than sources", &bedrockagentruntime.RerankInput{Queries: query, Sources: sources, RerankingConfiguration: rerankConfig(rerankARN, 4)}, "ValidationException"},
		{"model ID, not ARN", &bedrockagentruntime.RerankInput{Queries: query, Sources: sources, RerankingConfiguration: rerankConfig("amazon.rerank-v1:0", 1)}, "ValidationException"},
		{"unknown model", &bedrockagentruntime.RerankInput{Queries: query, Sources: sources, RerankingConfiguration: rerankConfig("arn:aws:bedrock:us-east-1::foundation-model/amazon.rerank-v9:0", 1)}, "ResourceNotFoundException"},
		{"no reranker serves it", &bedrockagentruntime.RerankInput{Queries: query, Sources: sources, RerankingConfiguration: rerankConfig(unservedRerank, 1)}, "AccessDeniedException"},
		{"two queries", &bedrockagentruntime.RerankInput{Queries: append(query, query...), Sources: sources, RerankingConfiguration: rerankConfig(rerankARN, 1)}, "ValidationException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rt.Rerank(ctx, tc.in)
			if got := apiCode(err); got != tc.want {
				t.Errorf("Rerank error = %v, want %s", err, tc.want)
			}
		})
	}

	// A reranker is not a chat model, on Bedrock's runtime or the OpenAI
	// dialect.
	rc := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	if _, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.rerank-v1:0"), Messages: userText("hi")}); apiCode(err) != "ValidationException" {
		t.Errorf("Converse on a reranker: %v, want ValidationException", err)
	}
	if _, err := rc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("amazon.rerank-v1:0"), Body: []byte(`{"query":"q","documents":["a"]}`)}); apiCode(err) != "ValidationException" {
		t.Errorf("InvokeModel on a reranker: %v, want ValidationException", err)
	}
	token, _, err := srv.Srv.IAM().CreateAPIKey(ctx, "root", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	oc := openAIClient(srv.URL, token)
	_, err = oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "amazon.rerank-v1:0", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if statusOf(err) != http.StatusBadRequest {
		t.Errorf("OpenAI chat completion on a reranker: %v, want 400", err)
	}
}

// TestKnowledgeBaseRerank retrieves with rerankingConfiguration through
// the SDK: the results are the reranker's best numberOfRerankedResults,
// in its order with its scores, chosen from more candidates than asked
// for; RetrieveAndGenerate puts them in the prompt in that order; the
// metadata sent along follows metadataConfiguration; and reranking needs
// bedrock:Rerank besides bedrock:Retrieve.
func TestKnowledgeBaseRerank(t *testing.T) {
	srv, up := rerankServer(t)
	ag, rt := agentClients(srv)
	kbID := rerankKB(t, ag)
	ctx := context.Background()
	vsc := func(arn string, n int32, meta *rtt.MetadataConfigurationForReranking) *rtt.KnowledgeBaseRetrievalConfiguration {
		return &rtt.KnowledgeBaseRetrievalConfiguration{VectorSearchConfiguration: &rtt.KnowledgeBaseVectorSearchConfiguration{
			NumberOfResults: aws.Int32(2),
			RerankingConfiguration: &rtt.VectorSearchRerankingConfiguration{Type: rtt.VectorSearchRerankingConfigurationTypeBedrockRerankingModel,
				BedrockRerankingConfiguration: &rtt.VectorSearchBedrockRerankingConfiguration{NumberOfRerankedResults: aws.Int32(n),
					ModelConfiguration: &rtt.VectorSearchBedrockRerankingModelConfiguration{ModelArn: aws.String(arn)}, MetadataConfiguration: meta}},
		}}
	}
	retrieve := func(c *bedrockagentruntime.Client, cfg *rtt.KnowledgeBaseRetrievalConfiguration) ([]string, []float64, error) {
		out, err := c.Retrieve(ctx, &bedrockagentruntime.RetrieveInput{KnowledgeBaseId: aws.String(kbID),
			RetrievalQuery: &rtt.KnowledgeBaseQuery{Text: aws.String("What replaced whale oil in the lamp?")}, RetrievalConfiguration: cfg})
		if err != nil {
			return nil, nil, err
		}
		var words []string
		var scores []float64
		for _, r := range out.RetrievalResults {
			words = append(words, strings.Fields(aws.ToString(r.Content.Text))[0])
			scores = append(scores, aws.ToFloat64(r.Score))
		}
		return words, scores, nil
	}

	words, scores, err := retrieve(rt, vsc(rerankARN, 3, nil))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"bravo:", "delta:", "alpha:"}, words); d != "" {
		t.Errorf("reranked Retrieve order (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]float64{0.9, 0.7, 0.2}, scores); d != "" {
		t.Errorf("reranked Retrieve scores (-want +got):\n%s", d)
	}
	// 3 wanted: 12 candidates asked for, all 5 chunks sent.
	q, docs, topN := up.seen()
	if q != "What replaced whale oil in the lamp?" || topN != 3 || len(docs) != 5 {
		t.Errorf("upstream saw query %q, top_n %d, %d documents", q, topN, len(docs))
	}
	for _, d := range docs {
		if strings.Contains(d, "\n") {
			t.Errorf("without metadataConfiguration the reranker got metadata: %q", d)
		}
	}

	// ALL sends every attribute; SELECTIVE only those included.
	if _, _, err := retrieve(rt, vsc(rerankARN, 1, &rtt.MetadataConfigurationForReranking{SelectionMode: rtt.RerankingMetadataSelectionModeAll})); err != nil {
		t.Fatal(err)
	}
	if _, docs, _ = up.seen(); !strings.Contains(docs[0], "\nx-amz-bedrock-kb-data-source-id: ") || !strings.Contains(docs[0], "\nx-amz-bedrock-kb-document-id: ") {
		t.Errorf("ALL: reranker got %q", docs[0])
	}
	sel := &rtt.MetadataConfigurationForReranking{SelectionMode: rtt.RerankingMetadataSelectionModeSelective,
		SelectiveModeConfiguration: &rtt.RerankingMetadataSelectiveModeConfigurationMemberFieldsToInclude{Value: []rtt.FieldForReranking{{FieldName: aws.String("x-amz-bedrock-kb-document-id")}}}}
	if _, _, err := retrieve(rt, vsc(rerankARN, 1, sel)); err != nil {
		t.Fatal(err)
	}
	if _, docs, _ = up.seen(); !strings.HasSuffix(docs[0], "lamp.\nx-amz-bedrock-kb-document-id: b") {
		t.Errorf("SELECTIVE include document-id: reranker got %q", docs[0])
	}

	// Errors.
	for _, tc := range []struct {
		name string
		cfg  *rtt.KnowledgeBaseRetrievalConfiguration
		want string
	}{
		{"unknown model", vsc("arn:aws:bedrock:us-east-1::foundation-model/amazon.rerank-v9:0", 1, nil), "ResourceNotFoundException"},
		{"no reranker serves it", vsc(unservedRerank, 1, nil), "AccessDeniedException"},
		{"not a foundation-model ARN", vsc("amazon.rerank-v1:0", 1, nil), "ValidationException"},
		{"selective without fields", vsc(rerankARN, 1, &rtt.MetadataConfigurationForReranking{SelectionMode: rtt.RerankingMetadataSelectionModeSelective}), "ValidationException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := retrieve(rt, tc.cfg); apiCode(err) != tc.want {
				t.Errorf("Retrieve error = %v, want %s", err, tc.want)
			}
		})
	}

	// RetrieveAndGenerate: the echo model answers with its prompt, whose
	// search results are the reranked passages in order.
	g, err := rt.RetrieveAndGenerate(ctx, &bedrockagentruntime.RetrieveAndGenerateInput{
		Input: &rtt.RetrieveAndGenerateInput{Text: aws.String("What replaced whale oil in the lamp?")},
		RetrieveAndGenerateConfiguration: &rtt.RetrieveAndGenerateConfiguration{Type: rtt.RetrieveAndGenerateTypeKnowledgeBase,
			KnowledgeBaseConfiguration: &rtt.KnowledgeBaseRetrieveAndGenerateConfiguration{KnowledgeBaseId: aws.String(kbID), ModelArn: aws.String("outcrop.echo-v1:0"),
				RetrievalConfiguration: vsc(rerankARN, 2, nil)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	text := aws.ToString(g.Output.Text)
	if i, j := strings.Index(text, "[1] bravo:"), strings.Index(text, "[2] delta:"); i < 0 || j < i || strings.Contains(text, "[3]") {
		t.Errorf("RetrieveAndGenerate prompt does not list the reranked passages in order:\n%s", text)
	}

	// The stream reranks the same way.
	st, err := rt.RetrieveAndGenerateStream(ctx, &bedrockagentruntime.RetrieveAndGenerateStreamInput{
		Input: &rtt.RetrieveAndGenerateInput{Text: aws.String("What replaced whale oil in the lamp?")},
		RetrieveAndGenerateConfiguration: &rtt.RetrieveAndGenerateConfiguration{Type: rtt.RetrieveAndGenerateTypeKnowledgeBase,
			KnowledgeBaseConfiguration: &rtt.KnowledgeBaseRetrieveAndGenerateConfiguration{KnowledgeBaseId: aws.String(kbID), ModelArn: aws.String("outcrop.echo-v1:0"),
				RetrievalConfiguration: vsc(rerankARN, 2, nil)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var streamed strings.Builder
	for ev := range st.GetStream().Events() {
		if o, ok := ev.(*rtt.RetrieveAndGenerateStreamResponseOutputMemberOutput); ok {
			streamed.WriteString(aws.ToString(o.Value.Text))
		}
	}
	st.GetStream().Close()
	if got := streamed.String(); got != text {
		t.Errorf("RetrieveAndGenerateStream text differs from RetrieveAndGenerate's:\n%s\nwant\n%s", got, text)
	}

	// IAM: bedrock:Retrieve alone does not allow reranking.
	k := newUser(t, srv, "reader", nil, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["bedrock:Retrieve","bedrock:InvokeModel"],"Resource":"*"}]}`)
	creds := credentials.NewStaticCredentialsProvider(k.ID, k.Secret, "")
	reader := bedrockagentruntime.New(bedrockagentruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: creds,
		HTTPClient: &http.Client{Transport: outcroptest.BodyCopyTransport{}}, RetryMaxAttempts: 1})
	if _, _, err := retrieve(reader, nil); err != nil {
		t.Errorf("Retrieve without reranking: %v", err)
	}
	if _, _, err := retrieve(reader, vsc(rerankARN, 1, nil)); apiCode(err) != "AccessDeniedException" {
		t.Errorf("Retrieve with reranking without bedrock:Rerank: %v, want AccessDeniedException", err)
	}
}
