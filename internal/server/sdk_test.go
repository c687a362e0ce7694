package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

const echoModel = "outcrop.echo-v1:0"

func runtimeClient(srv *outcroptest.Server, id, secret string) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, ""),
		HTTPClient:       &http.Client{Transport: outcroptest.BodyCopyTransport{}},
		RetryMaxAttempts: 1,
	})
}

func userText(s string) []rt.Message {
	return []rt.Message{{Role: rt.ConversationRoleUser, Content: []rt.ContentBlock{&rt.ContentBlockMemberText{Value: s}}}}
}

func TestConverse(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	out, err := c.Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId:  aws.String(echoModel),
		Messages: userText("hello outcrop world"),
		System:   []rt.SystemContentBlock{&rt.SystemContentBlockMemberText{Value: "be brief"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	msg := out.Output.(*rt.ConverseOutputMemberMessage).Value
	if got := msg.Content[0].(*rt.ContentBlockMemberText).Value; got != "hello outcrop world" {
		t.Errorf("text = %q", got)
	}
	if out.StopReason != rt.StopReasonEndTurn {
		t.Errorf("stopReason = %q", out.StopReason)
	}
	if *out.Usage.InputTokens != 5 || *out.Usage.OutputTokens != 3 || *out.Usage.TotalTokens != 8 {
		t.Errorf("usage = %+v", *out.Usage)
	}
}

func TestConverseStream(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	out, err := c.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId:         aws.String(echoModel),
		Messages:        userText("one two three STOP four"),
		InferenceConfig: &rt.InferenceConfiguration{StopSequences: []string{"STOP"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	stream := out.GetStream()
	defer stream.Close()
	var types []string
	var text strings.Builder
	var stop rt.StopReason
	var usage *rt.TokenUsage
	for ev := range stream.Events() {
		switch e := ev.(type) {
		case *rt.ConverseStreamOutputMemberMessageStart:
			types = append(types, "messageStart")
		case *rt.ConverseStreamOutputMemberContentBlockDelta:
			types = append(types, "delta")
			text.WriteString(e.Value.Delta.(*rt.ContentBlockDeltaMemberText).Value)
		case *rt.ConverseStreamOutputMemberContentBlockStop:
			types = append(types, "blockStop")
		case *rt.ConverseStreamOutputMemberMessageStop:
			types = append(types, "messageStop")
			stop = e.Value.StopReason
		case *rt.ConverseStreamOutputMemberMetadata:
			types = append(types, "metadata")
			usage = e.Value.Usage
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"messageStart", "delta", "delta", "delta", "blockStop", "messageStop", "metadata"}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("event order (-want +got):\n%s", diff)
	}
	if text.String() != "one two three" || stop != rt.StopReasonStopSequence {
		t.Errorf("text %q stop %q", text.String(), stop)
	}
	if usage == nil || *usage.OutputTokens != 3 {
		t.Errorf("usage = %+v", usage)
	}
}

func TestConverseStreamToolUse(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	schema := document.NewLazyDocument(map[string]any{"type": "object", "properties": map[string]any{"q": map[string]any{"type": "string"}}})
	out, err := c.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId:  aws.String(echoModel),
		Messages: userText("tool:lookup"),
		ToolConfig: &rt.ToolConfiguration{Tools: []rt.Tool{&rt.ToolMemberToolSpec{Value: rt.ToolSpecification{
			Name: aws.String("lookup"), InputSchema: &rt.ToolInputSchemaMemberJson{Value: schema}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	stream := out.GetStream()
	defer stream.Close()
	var name, input string
	var stop rt.StopReason
	for ev := range stream.Events() {
		switch e := ev.(type) {
		case *rt.ConverseStreamOutputMemberContentBlockStart:
			name = *e.Value.Start.(*rt.ContentBlockStartMemberToolUse).Value.Name
		case *rt.ConverseStreamOutputMemberContentBlockDelta:
			input += *e.Value.Delta.(*rt.ContentBlockDeltaMemberToolUse).Value.Input
		case *rt.ConverseStreamOutputMemberMessageStop:
			stop = e.Value.StopReason
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if name != "lookup" || input != `{"q":"echo"}` || stop != rt.StopReasonToolUse {
		t.Errorf("tool %q input %q stop %q", name, input, stop)
	}
}

func TestConverseStreamErrorAfterStart(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	out, err := c.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(echoModel), Messages: userText("failmid:throttled"),
	})
	if err != nil {
		t.Fatal(err)
	}
	stream := out.GetStream()
	defer stream.Close()
	for range stream.Events() {
	}
	var te *rt.ThrottlingException
	if !errors.As(stream.Err(), &te) {
		t.Fatalf("stream error = %v, want ThrottlingException", stream.Err())
	}
}

func TestInvokeModel(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	body := `{"messages":[{"role":"user","content":[{"text":"alpha beta"}]}]}`
	// The model ID as an ARN exercises percent-encoded, double-encoded signing.
	id := "arn:aws:bedrock:us-east-1::foundation-model/" + echoModel
	out, err := c.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(id), Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Output struct {
			Message struct {
				Content []struct{ Text string }
			}
		}
		StopReason string
	}
	if err := json.Unmarshal(out.Body, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Output.Message.Content[0].Text != "alpha beta" || resp.StopReason != "end_turn" {
		t.Errorf("body = %s", out.Body)
	}
	if *out.ContentType != "application/json" {
		t.Errorf("content type %q", *out.ContentType)
	}
}

func TestInvokeModelWithResponseStream(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	body := `{"messages":[{"role":"user","content":[{"text":"a b c"}]}]}`
	out, err := c.InvokeModelWithResponseStream(context.Background(), &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId: aws.String("us." + echoModel), Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	stream := out.GetStream()
	defer stream.Close()
	var chunks []map[string]json.RawMessage
	for ev := range stream.Events() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(ev.(*rt.ResponseStreamMemberChunk).Value.Bytes, &m); err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, m)
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 7 {
		t.Fatalf("got %d chunks, want 7", len(chunks))
	}
	last := chunks[len(chunks)-1]
	var im struct{ InputTokenCount, OutputTokenCount int }
	if err := json.Unmarshal(last["amazon-bedrock-invocationMetrics"], &im); err != nil || im.InputTokenCount != 3 || im.OutputTokenCount != 3 {
		t.Errorf("invocation metrics = %s (%v)", last["amazon-bedrock-invocationMetrics"], err)
	}
	if _, ok := last["metadata"]; !ok {
		t.Errorf("last chunk %v lacks the metadata event", last)
	}
}

func TestCountTokens(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	out, err := c.CountTokens(context.Background(), &bedrockruntime.CountTokensInput{
		ModelId: aws.String(echoModel),
		Input:   &rt.CountTokensInputMemberConverse{Value: rt.ConverseTokensRequest{Messages: userText("four words right here")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if *out.InputTokens != 4 {
		t.Errorf("inputTokens = %d, want 4", *out.InputTokens)
	}
}

func apiError(t *testing.T, err error) (string, int) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an API error", err)
	}
	status := 0
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return ae.ErrorCode(), status
}

func TestErrors(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	ctx := context.Background()
	expired, err := srv.Srv.IAM().CreateAccessKey(ctx, "root", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		id, secret string
		model      string
		msgs       []rt.Message
		wantCode   string
		wantStatus int
		wantMsg    string
	}{
		{name: "unknown model", model: "amazon.nope-v1", msgs: userText("hi"), wantCode: "ValidationException", wantStatus: 400, wantMsg: "The provided model identifier is invalid."},
		{name: "wrong secret", secret: "wrong", model: echoModel, msgs: userText("hi"), wantCode: "InvalidSignatureException", wantStatus: 403},
		{name: "unknown key", id: "AKIAUNKNOWNUNKNOWN00", model: echoModel, msgs: userText("hi"), wantCode: "UnrecognizedClientException", wantStatus: 403},
		{name: "assistant first", model: echoModel, msgs: []rt.Message{{Role: rt.ConversationRoleAssistant, Content: []rt.ContentBlock{&rt.ContentBlockMemberText{Value: "x"}}}},
			wantCode: "ValidationException", wantStatus: 400, wantMsg: "A conversation must start with a user message. Try again with a conversation that starts with a user message."},
		{name: "expired key", id: expired.ID, secret: expired.Secret, model: echoModel, msgs: userText("hi"), wantCode: "ExpiredTokenException", wantStatus: 403},
		{name: "throttled", model: echoModel, msgs: userText("fail:throttled"), wantCode: "ThrottlingException", wantStatus: 429},
		{name: "model timeout", model: echoModel, msgs: userText("fail:timeout"), wantCode: "ModelTimeoutException", wantStatus: 408},
		{name: "model error", model: echoModel, msgs: userText("fail:model"), wantCode: "ModelErrorException", wantStatus: 424},
		{name: "not ready", model: echoModel, msgs: userText("fail:notready"), wantCode: "ModelNotReadyException", wantStatus: 429},
		{name: "unavailable", model: echoModel, msgs: userText("fail:unavailable"), wantCode: "ServiceUnavailableException", wantStatus: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, secret := srv.Key.ID, srv.Key.Secret
			if tt.id != "" {
				id = tt.id
			}
			if tt.secret != "" {
				secret = tt.secret
			}
			_, err := runtimeClient(srv, id, secret).Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(tt.model), Messages: tt.msgs})
			code, status := apiError(t, err)
			if code != tt.wantCode || status != tt.wantStatus {
				t.Errorf("got %s %d, want %s %d (%v)", code, status, tt.wantCode, tt.wantStatus, err)
			}
			var ae smithy.APIError
			errors.As(err, &ae)
			if tt.wantMsg != "" && ae.ErrorMessage() != tt.wantMsg {
				t.Errorf("message = %q, want %q", ae.ErrorMessage(), tt.wantMsg)
			}
		})
	}
}

func TestFoundationModels(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	c := bedrock.New(bedrock.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(srv.Key.ID, srv.Key.Secret, ""),
		HTTPClient:  &http.Client{Transport: outcroptest.BodyCopyTransport{}},
	})
	ctx := context.Background()
	list, err := c.ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.ModelSummaries) != 1 || *list.ModelSummaries[0].ModelId != echoModel {
		t.Fatalf("summaries = %+v", list.ModelSummaries)
	}
	arn := "arn:aws:bedrock:us-east-1::foundation-model/" + echoModel
	for _, id := range []string{echoModel, arn} {
		got, err := c.GetFoundationModel(ctx, &bedrock.GetFoundationModelInput{ModelIdentifier: aws.String(id)})
		if err != nil {
			t.Fatalf("GetFoundationModel(%q): %v", id, err)
		}
		if *got.ModelDetails.ModelArn != arn || !*got.ModelDetails.ResponseStreamingSupported {
			t.Errorf("details = %+v", got.ModelDetails)
		}
	}
	_, err = c.GetFoundationModel(ctx, &bedrock.GetFoundationModelInput{ModelIdentifier: aws.String("amazon.nope-v1")})
	if code, status := apiError(t, err); code != "ResourceNotFoundException" || status != 404 {
		t.Errorf("unknown model: %s %d", code, status)
	}
	_, err = c.ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{ByOutputModality: "AUDIO"})
	if code, status := apiError(t, err); code != "ValidationException" || status != 400 {
		t.Errorf("bad filter: %s %d", code, status)
	}
}

func TestRawAuth(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	token, _, err := srv.Srv.IAM().CreateAPIKey(context.Background(), "root", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	oldToken, _, err := srv.Srv.IAM().CreateAPIKey(context.Background(), "root", time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	body := `{"messages":[{"role":"user","content":[{"text":"hi there"}]}]}`
	tests := []struct {
		name, path, auth string
		wantStatus       int
		wantType         string
	}{
		{"missing auth", "/model/" + url.PathEscape(echoModel) + "/converse", "", 403, "MissingAuthenticationTokenException"},
		{"bearer", "/model/" + url.PathEscape(echoModel) + "/converse", "Bearer " + token, 200, ""},
		{"bearer expired", "/model/" + url.PathEscape(echoModel) + "/converse", "Bearer " + oldToken, 403, "ExpiredTokenException"},
		{"bearer garbage", "/model/" + url.PathEscape(echoModel) + "/converse", "Bearer nope", 403, "UnrecognizedClientException"},
		{"bearer on agent runtime", "/knowledgebases/KB12345678/retrieve", "Bearer " + token, 403, "UnrecognizedClientException"},
		{"malformed sigv4", "/model/" + url.PathEscape(echoModel) + "/converse", "AWS4-HMAC-SHA256 Credential=x", 403, "InvalidSignatureException"},
		{"unknown path", "/nope", "", 404, "UnknownOperationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", srv.URL+tt.path, strings.NewReader(body))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("X-Amzn-Errortype") != tt.wantType {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), tt.wantStatus, tt.wantType)
			}
			if resp.Header.Get("X-Amzn-Requestid") == "" {
				t.Error("no x-amzn-RequestId")
			}
		})
	}
}

// TestClientDisconnectCancels checks that a client going away mid-stream
// cancels the backend's work.
func TestClientDisconnectCancels(t *testing.T) {
	started, stopped := make(chan struct{}, 1), make(chan error, 1)
	srv := outcroptest.NewServer(t, outcroptest.Options{Echo: &providertest.Echo{Started: started, Stopped: stopped}})
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, err := c.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(echoModel), Messages: userText("block")})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	out.GetStream().Close()
	cancel()
	if err := <-stopped; !errors.Is(err, context.Canceled) {
		t.Errorf("backend stopped with %v, want context.Canceled", err)
	}
}
