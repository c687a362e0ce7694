package bedrock_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/family"
	anthropicfam "github.com/outcrop/outcrop/internal/family/anthropic"
	"github.com/outcrop/outcrop/internal/family/converse"
	"github.com/outcrop/outcrop/internal/family/titanembed"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/bedrock"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

// recorder is the fake upstream's backend: echo, remembering the last
// canonical request the upstream decoded.
type recorder struct {
	providertest.Echo
	mu   sync.Mutex
	last *provider.Request
}

func (r *recorder) keep(req *provider.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = req
}

func (r *recorder) Last() *provider.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func (r *recorder) Converse(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	r.keep(req)
	return r.Echo.Converse(ctx, req)
}

func (r *recorder) ConverseStream(ctx context.Context, req *provider.Request, emit func(provider.Event) error) error {
	r.keep(req)
	return r.Echo.ConverseStream(ctx, req, emit)
}

const (
	echoModel   = "outcrop.echo-v1:0"
	claudeModel = "anthropic.claude-3-haiku-20240307-v1:0"
	titanModel  = "amazon.titan-embed-text-v2:0"
)

// upstream starts a real Outcrop server, the Bedrock the adapter talks to.
func upstream(t *testing.T) (*outcroptest.Server, *recorder) {
	rec := &recorder{}
	caps := catalog.Capabilities{ContextWindow: 4096, MaxOutputTokens: 1000, System: true, Vision: true, Documents: true, Tools: true, Streaming: true, Prefill: true}
	srv := outcroptest.NewServer(t, outcroptest.Options{
		Families: []family.Codec{converse.Codec{}, anthropicfam.Messages{}, titanembed.V2{}},
		Extra: []provider.Spec{{Kind: "rec", New: func(json.RawMessage, provider.Env) (provider.Adapter, error) {
			return rec, nil
		}}},
		Mutate: func(c *config.Config) { c.Backends["rec"] = config.Backend{Kind: "rec"} },
		Models: []catalog.Model{
			{ID: echoModel, Family: "converse", Backend: "rec", BackendModel: "echo", Input: []string{"TEXT", "IMAGE"}, Output: []string{"TEXT"}, Caps: caps},
			{ID: claudeModel, Family: "anthropic-messages", Backend: "rec", BackendModel: "echo", Input: []string{"TEXT"}, Output: []string{"TEXT"}, Caps: caps},
			{ID: titanModel, Family: "titan-embed-v2", Backend: "rec", BackendModel: "echo", Input: []string{"TEXT"}, Output: []string{"EMBEDDING"}},
		},
	})
	return srv, rec
}

// jsonEq compares JSON values, not their bytes (key order may change on
// the way through the SDK's documents).
var jsonEq = cmp.Transformer("json", func(r json.RawMessage) any {
	var v any
	if err := json.Unmarshal(r, &v); err != nil {
		return string(r)
	}
	return v
})

func newAdapter(t *testing.T, srv *outcroptest.Server, id, secret string, extra string) *bedrock.Adapter {
	t.Helper()
	raw := fmt.Sprintf(`{"region":"us-east-1","endpointURL":%q,"accessKeyId":%q,"secretAccessKey":%q,"maxRetries":0%s}`, srv.URL, id, secret, extra)
	a, err := bedrock.New(json.RawMessage(raw), provider.Env{HTTPClient: &http.Client{Transport: outcroptest.BodyCopyTransport{}}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func userText(s string) []provider.Message {
	return []provider.Message{{Role: provider.User, Content: []provider.Block{{Type: provider.TextBlock, Text: s}}}}
}

func TestConverse(t *testing.T) {
	srv, rec := upstream(t)
	a := newAdapter(t, srv, srv.Key.ID, srv.Key.Secret, "")
	temp, topK := 0.5, 7
	resp, err := a.Converse(context.Background(), &provider.Request{
		Model: echoModel, System: []provider.Block{{Type: provider.TextBlock, Text: "be brief"}},
		Messages: userText("hello bedrock world STOP more"), MaxTokens: 50, Temperature: &temp, TopK: &topK,
		StopSequences: []string{"STOP"}, Extra: json.RawMessage(`{"custom":true}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &provider.Response{
		Message:    provider.Message{Role: provider.Assistant, Content: []provider.Block{{Type: provider.TextBlock, Text: "hello bedrock world"}}},
		StopReason: provider.StopSequence, Usage: provider.Usage{InputTokens: 7, OutputTokens: 3},
	}
	if d := cmp.Diff(want, resp); d != "" {
		t.Errorf("response (-want +got):\n%s", d)
	}
	got := rec.Last()
	if got.MaxTokens != 50 || got.Temperature == nil || *got.Temperature != 0.5 || provider.TextOf(got.System) != "be brief" {
		t.Errorf("upstream saw %+v", got)
	}
	var extra map[string]any
	if err := json.Unmarshal(got.Extra, &extra); err != nil || extra["custom"] != true || extra["top_k"] != float64(7) {
		t.Errorf("additionalModelRequestFields = %s", got.Extra)
	}
}

func collect(t *testing.T, a *bedrock.Adapter, req *provider.Request) ([]provider.Event, error) {
	t.Helper()
	var evs []provider.Event
	err := a.ConverseStream(context.Background(), req, func(ev provider.Event) error {
		evs = append(evs, ev)
		return nil
	})
	return evs, err
}

func TestConverseStream(t *testing.T) {
	srv, _ := upstream(t)
	a := newAdapter(t, srv, srv.Key.ID, srv.Key.Secret, "")
	evs, err := collect(t, a, &provider.Request{Model: echoModel, Messages: userText("one two")})
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.Event{
		{Type: provider.MessageStartEvent},
		{Type: provider.TextDeltaEvent, Text: "one"},
		{Type: provider.TextDeltaEvent, Text: " two"},
		{Type: provider.BlockStopEvent},
		{Type: provider.MessageStopEvent, StopReason: provider.EndTurn},
		{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: 2, OutputTokens: 2}},
	}
	if d := cmp.Diff(want, evs); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

func TestTools(t *testing.T) {
	srv, rec := upstream(t)
	a := newAdapter(t, srv, srv.Key.ID, srv.Key.Secret, "")
	tools := []provider.Tool{{Name: "lookup", Description: "find things", Schema: json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}}}`)}}
	req := &provider.Request{Model: echoModel, Messages: userText("tool:lookup"), Tools: tools, ToolChoice: provider.ToolChoice{Mode: provider.ToolAny}}
	resp, err := a.Converse(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	wantUse := provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: "tooluse_echo1", Name: "lookup", Input: json.RawMessage(`{"q":"echo"}`)}}
	if d := cmp.Diff([]provider.Block{wantUse}, resp.Message.Content); d != "" || resp.StopReason != provider.ToolUseStop {
		t.Errorf("tool use (-want +got):\n%s stop=%s", d, resp.StopReason)
	}
	if d := cmp.Diff(tools, rec.Last().Tools, jsonEq); d != "" || rec.Last().ToolChoice.Mode != provider.ToolAny {
		t.Errorf("upstream tools (-want +got):\n%s", d)
	}

	evs, err := collect(t, a, req)
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.Event{
		{Type: provider.MessageStartEvent},
		{Type: provider.BlockStartEvent, ToolUse: &provider.ToolUse{ID: "tooluse_echo1", Name: "lookup"}},
		{Type: provider.ToolInputDeltaEvent, Text: `{"q":`},
		{Type: provider.ToolInputDeltaEvent, Text: `"echo"}`},
		{Type: provider.BlockStopEvent},
		{Type: provider.MessageStopEvent, StopReason: provider.ToolUseStop},
		{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: 1, OutputTokens: 3}},
	}
	if d := cmp.Diff(want, evs); d != "" {
		t.Errorf("stream (-want +got):\n%s", d)
	}

	// The result goes back as a tool result with JSON and text.
	req.Messages = append(req.Messages, resp.Message, provider.Message{Role: provider.User, Content: []provider.Block{{
		Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{ToolUseID: "tooluse_echo1", Status: "success", Content: []provider.Block{
			{Type: provider.TextBlock, Text: "found"}, {Type: provider.JSONBlock, JSON: json.RawMessage(`{"n":1}`)}}}}}})
	req.ToolChoice = provider.ToolChoice{}
	resp, err = a.Converse(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := provider.TextOf(resp.Message.Content); got != `tool result found{"n":1}` {
		t.Errorf("answer to tool result = %q", got)
	}
	if d := cmp.Diff(req.Messages, rec.Last().Messages, jsonEq); d != "" {
		t.Errorf("upstream messages (-want +got):\n%s", d)
	}
}

func TestImagesAndDocuments(t *testing.T) {
	srv, rec := upstream(t)
	a := newAdapter(t, srv, srv.Key.ID, srv.Key.Secret, "")
	png := []byte("\x89PNG\r\n\x1a\nfake")
	msgs := []provider.Message{{Role: provider.User, Content: []provider.Block{
		{Type: provider.TextBlock, Text: "describe"},
		{Type: provider.ImageBlock, Image: &provider.Image{Format: "png", Data: png}},
		{Type: provider.DocumentBlock, Document: &provider.Document{Format: "txt", Name: "notes", Data: []byte("some notes")}},
	}}}
	if _, err := a.Converse(context.Background(), &provider.Request{Model: echoModel, Messages: msgs}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(msgs, rec.Last().Messages); d != "" {
		t.Errorf("upstream messages (-want +got):\n%s", d)
	}
}

func TestRawInvoke(t *testing.T) {
	srv, _ := upstream(t)
	a := newAdapter(t, srv, srv.Key.ID, srv.Key.Secret, "")
	for _, c := range []struct {
		family, model string
		want          bool
	}{
		{"anthropic-messages", claudeModel, true},
		{"anthropic-messages", "us." + claudeModel, true},
		{"anthropic-text", claudeModel, false},
		{"anthropic-text", "anthropic.claude-v2:1", true},
		{"meta-llama", "meta.llama3-8b-instruct-v1:0", true},
		{"titan-embed-v2", titanModel, true},
		{"titan-embed", titanModel, false},
		{"converse", echoModel, false},
		{"titan-image-v2", "amazon.titan-image-generator-v2:0", true},
		{"titan-image", "amazon.titan-image-generator-v2:0", true},
		{"titan-image-v2", "amazon.titan-image-generator-v1", false},
		{"stability-sdxl", "stability.stable-diffusion-xl-v1", true},
		{"stability-image", "stability.stable-diffusion-xl-v1", false},
		{"stability-image", "us.stability.sd3-5-large-v1:0", true},
	} {
		if got := a.AcceptsRaw(c.family, c.model); got != c.want {
			t.Errorf("AcceptsRaw(%s, %s) = %v", c.family, c.model, got)
		}
	}
	if off := newAdapter(t, srv, srv.Key.ID, srv.Key.Secret, `,"rawInvoke":false`); off.AcceptsRaw("anthropic-messages", claudeModel) {
		t.Error("rawInvoke false still accepts raw bodies")
	}

	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":20,"messages":[{"role":"user","content":"hi there"}]}`)
	resp, err := a.InvokeRaw(context.Background(), claudeModel, body)
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Type    string `json:"type"`
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
		StopReason string `json:"stop_reason"`
	}
	if err := json.Unmarshal(resp.Body, &msg); err != nil || msg.Type != "message" || len(msg.Content) != 1 || msg.Content[0].Text != "hi there" || msg.StopReason != "end_turn" {
		t.Errorf("body = %s (%v)", resp.Body, err)
	}
	if resp.Usage != (provider.Usage{InputTokens: 2, OutputTokens: 2}) {
		t.Errorf("usage = %+v", resp.Usage)
	}

	var types []string
	usage, err := a.InvokeRawStream(context.Background(), claudeModel, body, func(chunk []byte) error {
		var c struct{ Type string }
		if err := json.Unmarshal(chunk, &c); err != nil {
			t.Errorf("chunk %s: %v", chunk, err)
		}
		types = append(types, c.Type)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []string{"message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"}
	if d := cmp.Diff(wantTypes, types); d != "" {
		t.Errorf("chunk types (-want +got):\n%s", d)
	}
	if usage != (provider.Usage{InputTokens: 2, OutputTokens: 2}) {
		t.Errorf("stream usage = %+v", usage)
	}
}

func TestEmbed(t *testing.T) {
	srv, _ := upstream(t)
	a := newAdapter(t, srv, srv.Key.ID, srv.Key.Secret, "")
	resp, err := a.Embed(context.Background(), &provider.EmbedRequest{Model: titanModel, Texts: []string{"a b c", "hello"}})
	if err != nil {
		t.Fatal(err)
	}
	want := &provider.EmbedResponse{Vectors: [][]float32{{5, 3, 1, 0}, {5, 1, 1, 0}}, InputTokens: 4}
	if d := cmp.Diff(want, resp); d != "" {
		t.Errorf("embeddings (-want +got):\n%s", d)
	}
	if _, err := a.Embed(context.Background(), &provider.EmbedRequest{Model: claudeModel, Texts: []string{"x"}}); fault.KindOf(err) != fault.Invalid {
		t.Errorf("embedding with a chat model: %v", err)
	}
}

func TestErrors(t *testing.T) {
	srv, _ := upstream(t)
	a := newAdapter(t, srv, srv.Key.ID, srv.Key.Secret, "")
	for _, c := range []struct {
		model, text string
		kind        fault.Kind
		msg         string // part of the client message
	}{
		{echoModel, "fail:throttled", fault.Throttled, "ThrottlingException"},
		{echoModel, "fail:timeout", fault.ModelTimeout, "timed out"},
		{echoModel, "fail:unavailable", fault.Unavailable, "ServiceUnavailableException"},
		{echoModel, "fail:model", fault.ModelFailed, "ModelErrorException"},
		{echoModel, "fail:internal", fault.ModelFailed, "InternalServerException"},
		{"outcrop.missing-v1:0", "hi", fault.Invalid, "The provided model identifier is invalid."},
	} {
		req := &provider.Request{Model: c.model, Messages: userText(c.text)}
		_, err := a.Converse(context.Background(), req)
		if fault.KindOf(err) != c.kind || !strings.Contains(fault.Message(err), c.msg) {
			t.Errorf("Converse %s %q: kind %v, message %q; want %v containing %q", c.model, c.text, fault.KindOf(err), fault.Message(err), c.kind, c.msg)
		}
		_, err = collect(t, a, req)
		if fault.KindOf(err) != c.kind {
			t.Errorf("ConverseStream %s %q: kind %v (%v), want %v", c.model, c.text, fault.KindOf(err), err, c.kind)
		}
	}
	// An error after the stream started arrives as an exception event.
	evs, err := collect(t, a, &provider.Request{Model: echoModel, Messages: userText("failmid:throttled")})
	if fault.KindOf(err) != fault.Throttled || len(evs) == 0 {
		t.Errorf("mid-stream failure: %v after %d events", err, len(evs))
	}
}

func TestCredentialsNeverLeak(t *testing.T) {
	srv, _ := upstream(t)
	for _, c := range []struct{ name, id, secret string }{
		{"wrong secret", srv.Key.ID, "wrongSecretValue0123456789abcdefghijkl"},
		{"unknown key", "AKIAUNKNOWNKEY000001", "anotherSecretValue0123456789abcdefghij"},
	} {
		a := newAdapter(t, srv, c.id, c.secret, "")
		for _, call := range []func() error{
			func() error {
				_, err := a.Converse(context.Background(), &provider.Request{Model: echoModel, Messages: userText("hi")})
				return err
			},
			func() error {
				_, err := collect(t, a, &provider.Request{Model: echoModel, Messages: userText("hi")})
				return err
			},
			func() error { _, err := a.InvokeRaw(context.Background(), claudeModel, []byte(`{}`)); return err },
		} {
			err := call()
			if fault.KindOf(err) != fault.Unavailable || !strings.Contains(fault.Message(err), "credentials") {
				t.Errorf("%s: kind %v, message %q", c.name, fault.KindOf(err), fault.Message(err))
			}
			for _, s := range []string{c.secret, c.id} {
				if strings.Contains(fmt.Sprintf("%v %+v %s", err, err, fault.Message(err)), s) {
					t.Errorf("%s: error mentions a credential: %v", c.name, err)
				}
				var fe *fault.Error
				if errors.As(err, &fe) && fe.Err != nil && strings.Contains(fe.Err.Error(), s) {
					t.Errorf("%s: logged cause mentions a credential: %v", c.name, fe.Err)
				}
			}
		}
	}
}

func TestConfig(t *testing.T) {
	for _, raw := range []string{
		`{"region":"us-east-1","bogus":1}`,
		`{"region":"us-east-1","accessKeyId":"AKIA"}`,
		`{"region":"us-east-1","accessKeyId":"AKIA","secretAccessKey":"s","profile":"p"}`,
		`{"region":"us-east-1","endpointURL":"ftp://x"}`,
		`{"region":"us-east-1","maxRetries":11}`,
		`{"region":"us-east-1","sessionToken":"t"}`,
	} {
		if _, err := bedrock.New(json.RawMessage(raw), provider.Env{}); err == nil {
			t.Errorf("New(%s) succeeded", raw)
		}
	}
}

// TestThroughServer runs InvokeModel and Converse through an Outcrop whose
// "aws" backend is the upstream Outcrop: native bodies pass through.
func TestThroughServer(t *testing.T) {
	up, _ := upstream(t)
	caps := catalog.Capabilities{ContextWindow: 4096, MaxOutputTokens: 1000, System: true, Tools: true, Streaming: true}
	front := outcroptest.NewServer(t, outcroptest.Options{
		Families: []family.Codec{converse.Codec{}, anthropicfam.Messages{}},
		Extra:    []provider.Spec{bedrock.Spec},
		Mutate: func(c *config.Config) {
			c.Backends["aws"] = config.Backend{Kind: "bedrock", Config: map[string]any{
				"region": "us-east-1", "endpointURL": up.URL, "accessKeyId": up.Key.ID, "secretAccessKey": up.Key.Secret, "maxRetries": 0,
			}}
		},
		Models: []catalog.Model{
			{ID: claudeModel, Family: "anthropic-messages", Backend: "aws", BackendModel: claudeModel, Input: []string{"TEXT"}, Output: []string{"TEXT"}, Caps: caps},
			{ID: "outcrop.remote-v1:0", Family: "converse", Backend: "aws", BackendModel: echoModel, Input: []string{"TEXT"}, Output: []string{"TEXT"}, Caps: caps},
		},
	})
	c := bedrockruntime.New(bedrockruntime.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(front.URL),
		Credentials: credentials.NewStaticCredentialsProvider(front.Key.ID, front.Key.Secret, ""),
		HTTPClient:  &http.Client{Transport: outcroptest.BodyCopyTransport{}}, RetryMaxAttempts: 1,
	})
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":20,"messages":[{"role":"user","content":"through two servers"}]}`)
	out, err := c.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(claudeModel), Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out.Body), `"text":"through two servers"`) {
		t.Errorf("InvokeModel body = %s", out.Body)
	}
	st, err := c.InvokeModelWithResponseStream(context.Background(), &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(claudeModel), Body: body})
	if err != nil {
		t.Fatal(err)
	}
	var chunks []string
	for ev := range st.GetStream().Events() {
		chunks = append(chunks, string(ev.(*rt.ResponseStreamMemberChunk).Value.Bytes))
	}
	if err := st.GetStream().Err(); err != nil {
		t.Fatal(err)
	}
	if n := len(chunks); n < 3 || strings.Count(strings.Join(chunks, ""), "amazon-bedrock-invocationMetrics") != 1 || !strings.Contains(chunks[n-1], "amazon-bedrock-invocationMetrics") {
		t.Errorf("chunks = %q", chunks)
	}
	cv, err := c.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String("outcrop.remote-v1:0"),
		Messages: []rt.Message{{Role: rt.ConversationRoleUser, Content: []rt.ContentBlock{&rt.ContentBlockMemberText{Value: "fail:throttled"}}}}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ThrottlingException" {
		t.Errorf("throttled upstream: %v, %v", cv, err)
	}
}
