package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	bt "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/openai/openai-go/v3"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/invlog"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/store/sqlite"
	"github.com/outcrop/outcrop/internal/usage"
)

// TestDialectAccounting checks that calls through the OpenAI and Anthropic
// front doors are metered (usage and cost by model, principal and key) and
// written to the invocation log like Bedrock calls: a record per call, the
// action it was authorized as, the dialect's request body, and the
// response (a stream's events as its chunks).
func TestDialectAccounting(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{Models: dialectModels(), Mutate: func(c *config.Config) {
		c.Prices = map[string]config.Price{echoModel: {InputPer1K: 1, OutputPer1K: 2}}
	}})
	ctx := context.Background()
	token, _, err := srv.Srv.IAM().CreateAPIKey(ctx, "root", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &bt.LoggingConfig{S3Config: &bt.S3Config{BucketName: aws.String("dialect-logs")}, TextDataDeliveryEnabled: aws.Bool(true)}
	if _, err := bedrockClient(srv, srv.Key.ID, srv.Key.Secret).PutModelInvocationLoggingConfiguration(ctx,
		&bedrock.PutModelInvocationLoggingConfigurationInput{LoggingConfig: cfg}); err != nil {
		t.Fatal(err)
	}
	oc := openAIClient(srv.URL, token)
	resp, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: echoModel,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("metered chat")}})
	if err != nil {
		t.Fatal(err)
	}
	stream := oc.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: echoModel,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("metered stream")}})
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	ac := anthropicClient(srv.URL, aoption.WithAPIKey(token))
	msg, err := ac.Messages.New(ctx, anthropic.MessageNewParams{Model: anthropic.Model(echoModel), MaxTokens: 32,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("metered message"))}})
	if err != nil {
		t.Fatal(err)
	}

	// The server meters and logs a call after its response is written, so
	// the client may see the answer first: wait for the third call.
	st, err := sqlite.Open(ctx, srv.Config.DataDir+"/outcrop.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var rows []usage.Row
	for range 100 {
		if err := srv.Srv.FlushUsage(ctx); err != nil {
			t.Fatal(err)
		}
		if rows, err = st.Usage(ctx, usage.Filter{}); err != nil {
			t.Fatal(err)
		}
		if len(rows) == 1 && rows[0].Requests == 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(rows) != 1 || rows[0].Model != echoModel || rows[0].Principal != "root" || rows[0].Requests != 3 ||
		rows[0].InputTokens < resp.Usage.PromptTokens+msg.Usage.InputTokens || rows[0].CostMicros == 0 {
		t.Errorf("usage rows = %+v, want the three dialect calls of root on %s", rows, echoModel)
	}

	var recs []invlog.Record
	found := map[string]bool{}
	for range 50 {
		recs = readInvocationLogs(t, srv, srv.Config.DataDir+"/buckets/dialect-logs")
		found = map[string]bool{}
		for _, r := range recs {
			in := string(r.Input.InputBodyJSON)
			switch {
			case strings.Contains(in, "metered chat") && r.Operation == "InvokeModel" && strings.Contains(string(r.Output.OutputBodyJSON), "chat.completion"):
				found["chat"] = true
			case strings.Contains(in, "metered stream") && r.Operation == "InvokeModelWithResponseStream" && strings.Contains(string(r.Output.OutputBodyJSON), "chat.completion.chunk"):
				found["stream"] = true
			case strings.Contains(in, "metered message") && r.Operation == "InvokeModel" && strings.Contains(string(r.Output.OutputBodyJSON), `"type":"message"`):
				found["message"] = true
			}
		}
		if len(found) == 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, r := range recs {
		if r.ModelID != echoModel || r.Input.InputTokenCount == 0 {
			t.Errorf("record %+v: want model %s and its token counts", r, echoModel)
		}
	}
	if len(found) != 3 {
		t.Errorf("invocation log records found %v of chat, stream and message; records: %+v", found, recs)
	}
}
