package agentruntimeapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	at "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/document"
	rtt "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/engine/weightstest"
	familyall "github.com/outcrop/outcrop/internal/family/all"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/local"
)

const echoModel = "outcrop.echo-v1:0"

// newServer starts a real server with the default catalog (the real
// MiniLM weights embed) and the echo model, which answers with its
// prompt, so that answers are deterministic and fast.
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
			c.Models = append(append([]catalog.Model{}, def.Models...), outcroptest.EchoModels...)
		},
	})
	creds := credentials.NewStaticCredentialsProvider(srv.Key.ID, srv.Key.Secret, "")
	hc := &http.Client{Transport: outcroptest.BodyCopyTransport{}}
	return bedrockagent.New(bedrockagent.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: creds, HTTPClient: hc, RetryMaxAttempts: 1}),
		bedrockagentruntime.New(bedrockagentruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: creds, HTTPClient: hc, RetryMaxAttempts: 1})
}

// newKB creates a knowledge base with a CUSTOM data source holding docs
// (ID → text), ingested directly.
func newKB(t *testing.T, ag *bedrockagent.Client, docs map[string]string) string {
	t.Helper()
	ctx := context.Background()
	k, err := ag.CreateKnowledgeBase(ctx, &bedrockagent.CreateKnowledgeBaseInput{
		Name: aws.String("streamkb"), RoleArn: aws.String("arn:aws:iam::000000000000:role/kb"),
		KnowledgeBaseConfiguration: &at.KnowledgeBaseConfiguration{Type: at.KnowledgeBaseTypeVector,
			VectorKnowledgeBaseConfiguration: &at.VectorKnowledgeBaseConfiguration{EmbeddingModelArn: aws.String("arn:aws:bedrock:us-east-1::foundation-model/outcrop.all-minilm-l6-v2")}},
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
	for id, text := range docs {
		in = append(in, at.KnowledgeBaseDocument{Content: &at.DocumentContent{DataSourceType: at.ContentDataSourceTypeCustom,
			Custom: &at.CustomContent{CustomDocumentIdentifier: &at.CustomDocumentIdentifier{Id: aws.String(id)}, SourceType: at.CustomSourceTypeInLine,
				InlineContent: &at.InlineContent{Type: at.InlineContentTypeText, TextContent: &at.TextContentDoc{Data: aws.String(text)}}}}})
	}
	out, err := ag.IngestKnowledgeBaseDocuments(ctx, &bedrockagent.IngestKnowledgeBaseDocumentsInput{KnowledgeBaseId: kbID, DataSourceId: ds.DataSource.DataSourceId, Documents: in})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range out.DocumentDetails {
		if d.Status != at.DocumentStatusIndexed {
			t.Fatalf("document %s: %s %s", *d.Identifier.Custom.Id, d.Status, aws.ToString(d.StatusReason))
		}
	}
	return *kbID
}

// streamed is what a RetrieveAndGenerateStream call delivered.
type streamed struct {
	session   string
	text      string
	citations []rtt.Citation
	order     []string // event kinds in order: "output", "citation"
}

func stream(t *testing.T, rt *bedrockagentruntime.Client, in *bedrockagentruntime.RetrieveAndGenerateStreamInput) (streamed, error) {
	t.Helper()
	out, err := rt.RetrieveAndGenerateStream(context.Background(), in)
	if err != nil {
		return streamed{}, err
	}
	s := streamed{session: aws.ToString(out.SessionId)}
	es := out.GetStream()
	defer es.Close()
	var text strings.Builder
	for ev := range es.Events() {
		switch v := ev.(type) {
		case *rtt.RetrieveAndGenerateStreamResponseOutputMemberOutput:
			text.WriteString(aws.ToString(v.Value.Text))
			s.order = append(s.order, "output")
		case *rtt.RetrieveAndGenerateStreamResponseOutputMemberCitation:
			c := rtt.Citation{GeneratedResponsePart: v.Value.GeneratedResponsePart, RetrievedReferences: v.Value.RetrievedReferences}
			if span := c.GeneratedResponsePart.TextResponsePart.Span; int(aws.ToInt32(span.End)) >= text.Len() {
				t.Errorf("citation of [%d, %d] arrived when only %d bytes of text had", aws.ToInt32(span.Start), aws.ToInt32(span.End), text.Len())
			}
			if v.Value.Citation == nil || !cmp.Equal(aws.ToString(v.Value.Citation.GeneratedResponsePart.TextResponsePart.Text), aws.ToString(c.GeneratedResponsePart.TextResponsePart.Text)) {
				t.Errorf("deprecated citation member not filled: %+v", v.Value.Citation)
			}
			s.citations = append(s.citations, c)
			s.order = append(s.order, "citation")
		default:
			t.Errorf("unexpected event %T", ev)
		}
	}
	s.text = text.String()
	return s, es.Err()
}

func genConfig(kbID, model, prompt string, filter rtt.RetrievalFilter) *rtt.RetrieveAndGenerateConfiguration {
	return &rtt.RetrieveAndGenerateConfiguration{Type: rtt.RetrieveAndGenerateTypeKnowledgeBase,
		KnowledgeBaseConfiguration: &rtt.KnowledgeBaseRetrieveAndGenerateConfiguration{
			KnowledgeBaseId: aws.String(kbID), ModelArn: aws.String(model),
			RetrievalConfiguration: &rtt.KnowledgeBaseRetrievalConfiguration{VectorSearchConfiguration: &rtt.KnowledgeBaseVectorSearchConfiguration{
				NumberOfResults: aws.Int32(2), Filter: filter}},
			GenerationConfiguration: &rtt.GenerationConfiguration{PromptTemplate: &rtt.PromptTemplate{TextPromptTemplate: aws.String(prompt)}},
		}}
}

// refText reduces references to what a comparison needs.
func refText(cs []rtt.Citation) [][]string {
	var out [][]string
	for _, c := range cs {
		p := c.GeneratedResponsePart.TextResponsePart
		row := []string{aws.ToString(p.Text), fmt.Sprintf("[%d, %d]", aws.ToInt32(p.Span.Start), aws.ToInt32(p.Span.End))}
		for _, r := range c.RetrievedReferences {
			row = append(row, aws.ToString(r.Location.CustomDocumentLocation.Id)+": "+aws.ToString(r.Content.Text))
		}
		out = append(out, row)
	}
	return out
}

func TestRetrieveAndGenerateStream(t *testing.T) {
	ag, rt := newServer(t)
	kbID := newKB(t, ag, map[string]string{
		"lighthouse": "The Skerry Point lighthouse was lit in 1851. Its lamp burned whale oil until 1904, when the keepers switched to paraffin.",
		"bees":       "A honey bee colony keeps one queen. Worker bees forage for nectar within three kilometres of the hive.",
	})
	ctx := context.Background()
	question := "What fuel did the lighthouse lamp burn?"
	cfg := genConfig(kbID, echoModel, "$search_results$", nil)

	got, err := stream(t, rt, &bedrockagentruntime.RetrieveAndGenerateStreamInput{Input: &rtt.RetrieveAndGenerateInput{Text: &question}, RetrieveAndGenerateConfiguration: cfg})
	if err != nil {
		t.Fatal(err)
	}
	want, err := rt.RetrieveAndGenerate(ctx, &bedrockagentruntime.RetrieveAndGenerateInput{Input: &rtt.RetrieveAndGenerateInput{Text: &question}, RetrieveAndGenerateConfiguration: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if got.session == "" || got.session == aws.ToString(want.SessionId) {
		t.Errorf("session %q (RetrieveAndGenerate's was %q)", got.session, aws.ToString(want.SessionId))
	}
	if got.text != aws.ToString(want.Output.Text) {
		t.Errorf("streamed text %q, RetrieveAndGenerate answered %q", got.text, aws.ToString(want.Output.Text))
	}
	if !strings.Contains(got.text, "whale oil") || len(got.citations) == 0 {
		t.Fatalf("streamed %q with %d citations", got.text, len(got.citations))
	}
	if diff := cmp.Diff(refText(want.Citations), refText(got.citations)); diff != "" {
		t.Errorf("streamed citations differ from RetrieveAndGenerate's (-want +got):\n%s", diff)
	}
	for _, c := range got.citations {
		p := c.GeneratedResponsePart.TextResponsePart
		start, end := aws.ToInt32(p.Span.Start), aws.ToInt32(p.Span.End)
		if got.text[start:end+1] != aws.ToString(p.Text) {
			t.Errorf("span [%d, %d] is %q, citation says %q", start, end, got.text[start:end+1], aws.ToString(p.Text))
		}
	}
	if got.order[0] != "output" || got.order[len(got.order)-1] != "citation" {
		t.Errorf("event order %v", got.order)
	}

	// The session carries on.
	again, err := stream(t, rt, &bedrockagentruntime.RetrieveAndGenerateStreamInput{Input: &rtt.RetrieveAndGenerateInput{Text: aws.String("And the bees?")},
		SessionId: aws.String(got.session), RetrieveAndGenerateConfiguration: cfg})
	if err != nil || again.session != got.session {
		t.Errorf("second turn: session %q, %v", again.session, err)
	}

	none := &rtt.RetrievalFilterMemberEquals{Value: rtt.FilterAttribute{Key: aws.String("absent"), Value: document.NewLazyDocument("x")}}
	for _, tc := range []struct {
		name, input, session, model, prompt string
		filter                              rtt.RetrievalFilter
		status                              int
		code                                string // error before the stream
		streamErr                           string // exception event in the stream
	}{
		{name: "unknown knowledge base", input: "q", model: echoModel, prompt: "$search_results$", status: 404, code: "ResourceNotFoundException"},
		{name: "embedding model", input: "q", model: "outcrop.all-minilm-l6-v2", prompt: "$search_results$", status: 400, code: "ValidationException"},
		{name: "no $search_results$", input: "q", model: echoModel, prompt: "$query$", status: 400, code: "ValidationException"},
		{name: "unknown session", input: "q", session: "no-such-session", model: echoModel, prompt: "$search_results$", status: 404, code: "ResourceNotFoundException"},
		{name: "model fails first", input: "fail:throttled", model: echoModel, prompt: "$query$$search_results$", filter: none, status: 429, code: "ThrottlingException"},
		{name: "model fails midway", input: "failmid:model", model: echoModel, prompt: "$query$$search_results$", filter: none, streamErr: "DependencyFailedException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := kbID
			if tc.code == "ResourceNotFoundException" && tc.session == "" {
				id = "AAAAAAAAAA"
			}
			s, err := stream(t, rt, &bedrockagentruntime.RetrieveAndGenerateStreamInput{Input: &rtt.RetrieveAndGenerateInput{Text: aws.String(tc.input)},
				SessionId: optional(tc.session), RetrieveAndGenerateConfiguration: genConfig(id, tc.model, tc.prompt, tc.filter)})
			var ae smithy.APIError
			if tc.streamErr != "" {
				var dfe *rtt.DependencyFailedException
				if !errors.As(err, &ae) || ae.ErrorCode() != tc.streamErr || !errors.As(err, &dfe) || s.text != "partial" {
					t.Errorf("stream error %T %v after %q, want %s", err, err, s.text, tc.streamErr)
				}
				return
			}
			var re interface{ HTTPStatusCode() int }
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code || !errors.As(err, &re) || re.HTTPStatusCode() != tc.status {
				t.Errorf("error %v, want %s (%d)", err, tc.code, tc.status)
			}
		})
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
