package agentapi_test

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	at "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	rtt "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/engine/weightstest"
	familyall "github.com/outcrop/outcrop/internal/family/all"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/local"
)

// newServer starts a real server whose default catalog embeds with the
// real MiniLM weights, and returns SDK clients for it.
func newServer(t *testing.T) (*bedrockagent.Client, *bedrockagentruntime.Client) {
	t.Helper()
	weightstest.Path(t, "all-MiniLM-L6-v2/model.safetensors")
	def, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	srv := outcroptest.NewServer(t, outcroptest.Options{
		Families: familyall.Families,
		Extra:    []provider.Spec{local.Spec},
		Mutate: func(c *config.Config) {
			c.Backends["local"] = config.Backend{Kind: "local", Config: map[string]any{"threads": 2}}
			c.ModelsDir = weightstest.Dir()
			c.Models = def.Models
		},
	})
	creds := credentials.NewStaticCredentialsProvider(srv.Key.ID, srv.Key.Secret, "")
	hc := &http.Client{Transport: outcroptest.BodyCopyTransport{}}
	return bedrockagent.New(bedrockagent.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: creds, HTTPClient: hc, RetryMaxAttempts: 1}),
		bedrockagentruntime.New(bedrockagentruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: creds, HTTPClient: hc, RetryMaxAttempts: 1})
}

func createKB(t *testing.T, ag *bedrockagent.Client, name string) string {
	t.Helper()
	k, err := ag.CreateKnowledgeBase(context.Background(), &bedrockagent.CreateKnowledgeBaseInput{
		Name: aws.String(name), RoleArn: aws.String("arn:aws:iam::000000000000:role/kb"),
		KnowledgeBaseConfiguration: &at.KnowledgeBaseConfiguration{Type: at.KnowledgeBaseTypeVector,
			VectorKnowledgeBaseConfiguration: &at.VectorKnowledgeBaseConfiguration{EmbeddingModelArn: aws.String("arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return *k.KnowledgeBase.KnowledgeBaseId
}

func createDS(ag *bedrockagent.Client, kbID, name string, c *at.ChunkingConfiguration) (*bedrockagent.CreateDataSourceOutput, error) {
	return ag.CreateDataSource(context.Background(), &bedrockagent.CreateDataSourceInput{KnowledgeBaseId: &kbID, Name: aws.String(name),
		DataSourceConfiguration:      &at.DataSourceConfiguration{Type: at.DataSourceTypeCustom},
		VectorIngestionConfiguration: &at.VectorIngestionConfiguration{ChunkingConfiguration: c}})
}

func ingest(t *testing.T, ag *bedrockagent.Client, kbID, dsID, id, text string) {
	t.Helper()
	out, err := ag.IngestKnowledgeBaseDocuments(context.Background(), &bedrockagent.IngestKnowledgeBaseDocumentsInput{KnowledgeBaseId: &kbID, DataSourceId: &dsID,
		Documents: []at.KnowledgeBaseDocument{{Content: &at.DocumentContent{DataSourceType: at.ContentDataSourceTypeCustom,
			Custom: &at.CustomContent{CustomDocumentIdentifier: &at.CustomDocumentIdentifier{Id: aws.String(id)}, SourceType: at.CustomSourceTypeInLine,
				InlineContent: &at.InlineContent{Type: at.InlineContentTypeText, TextContent: &at.TextContentDoc{Data: aws.String(text)}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if d := out.DocumentDetails[0]; d.Status != at.DocumentStatusIndexed {
		t.Fatalf("document %s: %s %s", id, d.Status, aws.ToString(d.StatusReason))
	}
}

func retrieve(t *testing.T, rt *bedrockagentruntime.Client, kbID, q string, n int32) []rtt.KnowledgeBaseRetrievalResult {
	t.Helper()
	out, err := rt.Retrieve(context.Background(), &bedrockagentruntime.RetrieveInput{KnowledgeBaseId: &kbID, RetrievalQuery: &rtt.KnowledgeBaseQuery{Text: &q},
		RetrievalConfiguration: &rtt.KnowledgeBaseRetrievalConfiguration{VectorSearchConfiguration: &rtt.KnowledgeBaseVectorSearchConfiguration{
			NumberOfResults: aws.Int32(n), OverrideSearchType: rtt.SearchTypeSemantic}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.RetrievalResults
}

func hier(parent, child, overlap int32) *at.ChunkingConfiguration {
	return &at.ChunkingConfiguration{ChunkingStrategy: at.ChunkingStrategyHierarchical,
		HierarchicalChunkingConfiguration: &at.HierarchicalChunkingConfiguration{OverlapTokens: aws.Int32(overlap),
			LevelConfigurations: []at.HierarchicalChunkingLevelConfiguration{{MaxTokens: aws.Int32(parent)}, {MaxTokens: aws.Int32(child)}}}}
}

func sem(maxTokens, buffer, threshold int32) *at.ChunkingConfiguration {
	return &at.ChunkingConfiguration{ChunkingStrategy: at.ChunkingStrategySemantic,
		SemanticChunkingConfiguration: &at.SemanticChunkingConfiguration{MaxTokens: aws.Int32(maxTokens), BufferSize: aws.Int32(buffer), BreakpointPercentileThreshold: aws.Int32(threshold)}}
}

func TestChunkingConfigurationValidation(t *testing.T) {
	ag, _ := newServer(t)
	kbID := createKB(t, ag, "validation")
	fixed := &at.FixedSizeChunkingConfiguration{MaxTokens: aws.Int32(100), OverlapPercentage: aws.Int32(10)}
	for _, tc := range []struct {
		name string
		c    *at.ChunkingConfiguration
		ok   bool
	}{
		{"hierarchical", hier(1500, 300, 60), true},
		{"semantic", sem(300, 0, 95), true},
		{"semantic buffer 1", sem(300, 1, 50), true},
		{"hierarchical without its configuration", &at.ChunkingConfiguration{ChunkingStrategy: at.ChunkingStrategyHierarchical}, false},
		{"hierarchical with one level", &at.ChunkingConfiguration{ChunkingStrategy: at.ChunkingStrategyHierarchical,
			HierarchicalChunkingConfiguration: &at.HierarchicalChunkingConfiguration{OverlapTokens: aws.Int32(60),
				LevelConfigurations: []at.HierarchicalChunkingLevelConfiguration{{MaxTokens: aws.Int32(300)}}}}, false},
		{"hierarchical child above parent", hier(300, 1500, 60), false},
		{"hierarchical level above 8192", hier(9000, 300, 60), false},
		{"hierarchical overlap 0", hier(1500, 300, 0), false},
		{"semantic threshold 49", sem(300, 0, 49), false},
		{"semantic buffer 2", sem(300, 2, 95), false},
		{"semantic without its configuration", &at.ChunkingConfiguration{ChunkingStrategy: at.ChunkingStrategySemantic}, false},
		{"semantic with a fixed-size configuration too", &at.ChunkingConfiguration{ChunkingStrategy: at.ChunkingStrategySemantic,
			SemanticChunkingConfiguration: sem(300, 0, 95).SemanticChunkingConfiguration, FixedSizeChunkingConfiguration: fixed}, false},
		{"unknown strategy", &at.ChunkingConfiguration{ChunkingStrategy: "PARAGRAPH"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := createDS(ag, kbID, strings.NewReplacer(" ", "-", "8192", "n").Replace(tc.name), tc.c)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				got, err := ag.GetDataSource(context.Background(), &bedrockagent.GetDataSourceInput{KnowledgeBaseId: &kbID, DataSourceId: out.DataSource.DataSourceId})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.c, got.DataSource.VectorIngestionConfiguration.ChunkingConfiguration, cmp.AllowUnexported(at.ChunkingConfiguration{},
					at.HierarchicalChunkingConfiguration{}, at.HierarchicalChunkingLevelConfiguration{}, at.SemanticChunkingConfiguration{})); diff != "" {
					t.Errorf("GetDataSource chunkingConfiguration (-sent +got):\n%s", diff)
				}
				return
			}
			var ae smithy.APIError
			var re interface{ HTTPStatusCode() int }
			if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" || !errors.As(err, &re) || re.HTTPStatusCode() != 400 {
				t.Errorf("CreateDataSource: %v, want ValidationException (400)", err)
			}
		})
	}
}

// TestHierarchicalRetrieval checks that a match on a child chunk returns
// its parent's text, each parent once.
func TestHierarchicalRetrieval(t *testing.T) {
	ag, rt := newServer(t)
	kbID := createKB(t, ag, "hier")
	ds, err := createDS(ag, kbID, "docs", hier(40, 12, 3))
	if err != nil {
		t.Fatal(err)
	}
	text := "The Skerry Point lighthouse was lit in 1851 on a rock two miles off the coast. " +
		"Its lamp burned whale oil until 1904, when the keepers switched to paraffin. " +
		"The tower is thirty-eight metres tall and painted in red and white bands. " +
		"Three keepers lived there at a time and rowed ashore for supplies each fortnight. " +
		"A honey bee colony keeps one queen and tens of thousands of workers. " +
		"Worker bees forage for nectar within three kilometres of the hive. " +
		"They tell each other where the flowers are with a waggle dance. " +
		"Drones do not forage and are driven out of the hive in autumn."
	ingest(t, ag, kbID, *ds.DataSource.DataSourceId, "notes", text)

	res := retrieve(t, rt, kbID, "What fuel did the lamp burn before paraffin?", 10)
	if len(res) == 0 {
		t.Fatal("no results")
	}
	top := aws.ToString(res[0].Content.Text)
	if !strings.Contains(top, "whale oil") || len(strings.Fields(top)) <= 12 || len(strings.Fields(top)) > 40 {
		t.Errorf("top result is not the parent chunk holding the answer (12 < words <= 40): %d words %q", len(strings.Fields(top)), top)
	}
	seen := map[string]bool{}
	var parents []string
	for _, r := range res {
		c := aws.ToString(r.Content.Text)
		if seen[c] {
			t.Errorf("parent returned twice: %q", c)
		}
		seen[c] = true
		parents = append(parents, c)
		for k := range r.Metadata {
			if strings.HasPrefix(k, "x-outcrop") {
				t.Errorf("internal metadata key %s returned", k)
			}
		}
	}
	// 80 words in parents of 40 overlapping by 3: three parents.
	if len(parents) != 3 {
		t.Errorf("%d distinct parents returned, want 3: %q", len(parents), parents)
	}
	sort.Strings(parents)
	if joined := strings.Join(parents, " "); !strings.Contains(joined, "waggle dance") || !strings.Contains(joined, "driven out of the hive in autumn.") {
		t.Errorf("parents do not cover the document: %q", parents)
	}
}

// TestSemanticChunking checks that SEMANTIC chunking with the real
// embeddings cuts a document of three topics at the topic changes.
func TestSemanticChunking(t *testing.T) {
	ag, rt := newServer(t)
	kbID := createKB(t, ag, "sem")
	ds, err := createDS(ag, kbID, "docs", sem(100, 0, 60))
	if err != nil {
		t.Fatal(err)
	}
	topics := []string{
		"Honey bees live in colonies with a single queen bee. Worker honey bees collect nectar and pollen for the hive.",
		"The lighthouse lamp burned whale oil until 1904. The lighthouse keepers then switched the lamp to paraffin.",
		"Sourdough bread rises with a wild yeast starter. The bread dough proves overnight before the loaf is baked.",
	}
	ingest(t, ag, kbID, *ds.DataSource.DataSourceId, "mixed", strings.Join(topics, " "))
	var got []string
	for _, r := range retrieve(t, rt, kbID, "bees lighthouse bread", 10) {
		got = append(got, aws.ToString(r.Content.Text))
	}
	sort.Strings(got)
	want := append([]string(nil), topics...)
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("semantic chunks (-want +got):\n%s", diff)
	}
}
