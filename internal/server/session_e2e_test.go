package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	rtt "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"

	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/converse"
	"github.com/outcrop/outcrop/internal/family/titanembed"
	"github.com/outcrop/outcrop/internal/outcroptest"
)

// TestKnowledgeBaseSessionRestart holds a RetrieveAndGenerate conversation
// with one server, stops it, starts another on the same data directory
// and continues the conversation through the SDK: the session is found
// and its turns reach the model (the echo model answers with its prompt,
// whose $conversation_history$ shows them).
func TestKnowledgeBaseSessionRestart(t *testing.T) {
	dir := t.TempDir()
	start := func() *outcroptest.Server {
		return outcroptest.NewServer(t, outcroptest.Options{
			Families: []family.Codec{converse.Codec{}, titanembed.V2{}},
			Mutate:   func(c *config.Config) { c.DataDir = dir },
			Models: append([]catalog.Model{
				{ID: rerankEmbedModel, Family: "titan-embed-v2", Backend: "echo", BackendModel: "echo", Input: []string{"TEXT"}, Output: []string{"EMBEDDING"}, Caps: catalog.Capabilities{Dimensions: 4}},
			}, outcroptest.EchoModels...),
		})
	}
	ctx := context.Background()
	srv := start()
	ag, rt := agentClients(srv)
	kbID := rerankKB(t, ag)
	ask := func(rt *bedrockagentruntime.Client, session, q string) (*bedrockagentruntime.RetrieveAndGenerateOutput, error) {
		in := &bedrockagentruntime.RetrieveAndGenerateInput{
			Input: &rtt.RetrieveAndGenerateInput{Text: aws.String(q)},
			RetrieveAndGenerateConfiguration: &rtt.RetrieveAndGenerateConfiguration{Type: rtt.RetrieveAndGenerateTypeKnowledgeBase,
				KnowledgeBaseConfiguration: &rtt.KnowledgeBaseRetrieveAndGenerateConfiguration{KnowledgeBaseId: aws.String(kbID), ModelArn: aws.String("outcrop.echo-v1:0"),
					GenerationConfiguration: &rtt.GenerationConfiguration{PromptTemplate: &rtt.PromptTemplate{
						TextPromptTemplate: aws.String("HISTORY[$conversation_history$] $search_results$ Q: $query$")}}}},
		}
		if session != "" {
			in.SessionId = aws.String(session)
		}
		return rt.RetrieveAndGenerate(ctx, in)
	}
	first, err := ask(rt, "", "What did the lamp burn?")
	if err != nil {
		t.Fatal(err)
	}
	sid := aws.ToString(first.SessionId)
	if _, err := ask(rt, sid, "And after that?"); err != nil {
		t.Fatal(err)
	}
	srv.HTTP.Close()
	if err := srv.Srv.Close(); err != nil {
		t.Fatal(err)
	}

	srv = start()
	_, rt = agentClients(srv)
	out, err := ask(rt, sid, "Who kept the light?")
	if err != nil {
		t.Fatalf("continuing session %s after the restart: %v", sid, err)
	}
	if got := aws.ToString(out.SessionId); got != sid {
		t.Errorf("sessionId = %q, want %q", got, sid)
	}
	text := aws.ToString(out.Output.Text)
	if !strings.Contains(text, "User: What did the lamp burn?") || !strings.Contains(text, "User: And after that?") {
		t.Errorf("after the restart the model was not given the earlier turns:\n%s", text)
	}
	if _, err := ask(rt, "b7e0c0de-0000-4000-8000-000000000000", "Hello?"); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("unknown session: %v, want ResourceNotFoundException", err)
	}
}
