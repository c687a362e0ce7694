package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"

	"github.com/outcrop/outcrop/internal/audit"
	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/quota"
)

// The OpenAI and Anthropic dialects go through the same governance as the
// Bedrock APIs: the audit trail, quotas with token settlement, and
// multi-backend routing.

func apiKey(t *testing.T, srv *outcroptest.Server, user string) string {
	t.Helper()
	token, _, err := srv.Srv.IAM().CreateAPIKey(context.Background(), user, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func chatText(c openai.Client, model, text string) error {
	_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)},
	})
	return err
}

func messageText(c anthropic.Client, model, text string) error {
	_, err := c.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model: anthropic.Model(model), MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(text))},
	})
	return err
}

func TestDialectAudit(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{Models: dialectModels()})
	apiKeyToken := apiKey(t, srv, "root")
	ctx := context.Background()
	oc, ac := openAIClient(srv.URL, apiKeyToken), anthropicClient(srv.URL, aoption.WithAPIKey(apiKeyToken))
	prompt := "dialect-canary-" + time.Now().Format("150405.000000000") + "-okapi-quince"
	if err := chatText(oc, echoModel, prompt); err != nil {
		t.Fatal(err)
	}
	st := oc.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: echoModel, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream " + prompt)}})
	for st.Next() {
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if err := messageText(ac, echoModel, prompt); err != nil {
		t.Fatal(err)
	}
	if _, err := oc.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: echoEmbedModel, Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String(prompt)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: echoModel,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(prompt))}}); err != nil {
		t.Fatal(err)
	}
	if _, err := oc.Models.List(ctx); err != nil {
		t.Fatal(err)
	}
	// Failures: a bad key (before authentication) and a denied user.
	if err := chatText(openAIClient(srv.URL, "bedrock-api-key-bogus"), echoModel, prompt); statusOf(err) != 401 {
		t.Fatalf("bad key: %v", err)
	}
	newUser(t, srv, "nokeys", nil)
	if err := messageText(anthropicClient(srv.URL, aoption.WithAPIKey(apiKey(t, srv, "nokeys"))), echoModel, prompt); statusOf(err) != 403 {
		t.Fatalf("user without policy: %v", err)
	}
	newUser(t, srv, "dialectee", nil, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:CallWithBearerToken","Resource":"*"}]}`)
	if err := messageText(anthropicClient(srv.URL, aoption.WithAPIKey(apiKey(t, srv, "dialectee"))), echoModel, prompt); statusOf(err) != 403 {
		t.Fatalf("user without model permission: %v", err)
	}

	type ev struct{ Name, Params, Error, User string }
	var got []ev
	for _, e := range lookup(t, srv, audit.Filter{}) {
		if e.EventSource != audit.EventSource {
			t.Errorf("eventSource %q", e.EventSource)
		}
		if !strings.Contains(string(e.RequestParameters), "apiDialect") {
			continue // the test's own IAM calls
		}
		if e.UserAgent == "" || e.SourceIPAddress != "127.0.0.1" || e.RequestID == "" {
			t.Errorf("event %s lacks agent, address or request ID: %+v", e.EventName, e)
		}
		got = append([]ev{{e.EventName, string(e.RequestParameters), e.ErrorCode, e.UserIdentity.Type}}, got...)
	}
	p := func(d, op, model string) string {
		m := map[string]string{"apiDialect": d, "apiOperation": op}
		if model != "" {
			m["modelId"] = model
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	want := []ev{
		{"InvokeModel", p("openai", "POST /v1/chat/completions", echoModel), "", "Root"},
		{"InvokeModelWithResponseStream", p("openai", "POST /v1/chat/completions", echoModel), "", "Root"},
		{"InvokeModel", p("anthropic", "POST /v1/messages", echoModel), "", "Root"},
		{"InvokeModel", p("openai", "POST /v1/embeddings", echoEmbedModel), "", "Root"},
		{"CountTokens", p("anthropic", "POST /v1/messages/count_tokens", echoModel), "", "Root"},
		{"ListFoundationModels", p("openai", "GET /v1/models", ""), "", "Root"},
		{"InvokeModel", p("openai", "POST /v1/chat/completions", ""), "UnrecognizedClientException", "Unknown"},
		{"InvokeModel", p("anthropic", "POST /v1/messages", ""), "AccessDeniedException", "IAMUser"},
		{"InvokeModel", p("anthropic", "POST /v1/messages", echoModel), "AccessDeniedException", "IAMUser"},
	}
	// A stream's record is written when its handler returns, which may be
	// after the client has read the end and sent its next call.
	key := func(e ev) string { return e.Name + e.Params + e.Error + e.User }
	sort.Slice(got, func(i, j int) bool { return key(got[i]) < key(got[j]) })
	sort.Slice(want, func(i, j int) bool { return key(want[i]) < key(want[j]) })
	if len(got) != len(want) {
		t.Fatalf("dialect events:\n%+v\nwant\n%+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if evs := lookup(t, srv, audit.Filter{Resource: echoModel}); len(evs) < 5 {
		t.Errorf("events naming the echo model = %d, want at least 5", len(evs))
	}
	grepDataDir(t, srv.Config.DataDir, "prompt", prompt)
	grepDataDir(t, srv.Srv.AuditDir(), "API key", apiKeyToken)
}

func TestDialectThrottling(t *testing.T) {
	clk := &testClock{t: time.Now()}
	srv := outcroptest.NewServer(t, outcroptest.Options{Now: clk.Now, Models: dialectModels(), Mutate: func(c *config.Config) {
		c.Quotas.Models = map[string]config.QuotaLimit{echoModel: {RequestsPerMinute: 2}}
		c.Quotas.Principals = map[string]config.QuotaLimit{"tpm": {TokensPerMinute: 60}}
	}})
	key := apiKey(t, srv, "root")
	oc, ac := openAIClient(srv.URL, key), anthropicClient(srv.URL, aoption.WithAPIKey(key))
	if err := chatText(oc, echoModel, "hi"); err != nil {
		t.Fatal(err)
	}
	if err := messageText(ac, echoModel, "hi"); err != nil {
		t.Fatal(err)
	}
	// The model's two requests a minute are used, whichever door they came in by.
	err := chatText(oc, echoModel, "hi")
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.StatusCode != 429 || oe.Type != "rate_limit_error" || oe.Message != quota.MsgRequests {
		t.Fatalf("OpenAI over quota: %v", err)
	}
	err = messageText(ac, echoModel, "hi")
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 429 || !strings.Contains(ae.RawJSON(), `"type":"rate_limit_error"`) {
		t.Fatalf("Anthropic over quota: %v", err)
	}
	if evs := lookup(t, srv, audit.Filter{ErrorsOnly: true}); len(evs) != 2 || evs[0].ErrorCode != "ThrottlingException" || evs[1].ErrorCode != "ThrottlingException" {
		t.Errorf("throttled calls in the trail = %+v", evs)
	}
	clk.Add(30 * time.Second)
	if err := chatText(oc, echoModel, "hi"); err != nil {
		t.Fatalf("after 30 s: %v", err)
	}

	// Tokens are settled with the usage the dialect reports: the first
	// call's real tokens use up the user's 60 a minute.
	clk.Add(time.Minute)
	newUser(t, srv, "tpm", nil, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:*","Resource":"*"}]}`)
	uc := openAIClient(srv.URL, apiKey(t, srv, "tpm"))
	if err := chatText(uc, echoModel, strings.Repeat("word ", 40)); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if err := chatText(uc, echoModel, "hi"); !errors.As(err, &oe) || oe.StatusCode != 429 || oe.Message != quota.MsgTokens {
		t.Fatalf("over the token quota: %v", err)
	}
	clk.Add(3 * time.Minute)
	if err := chatText(uc, echoModel, "hi"); err != nil {
		t.Fatalf("after the debt is repaid: %v", err)
	}
}

// TestDialectRouting serves a model from two backends, the first always
// throttled: the dialects fall back to the second as the runtime does.
func TestDialectRouting(t *testing.T) {
	var calls atomic.Int32
	const model = "outcrop.routed-v1:0"
	srv := outcroptest.NewServer(t, outcroptest.Options{
		Extra: []provider.Spec{{Kind: "throttler", New: func(json.RawMessage, provider.Env) (provider.Adapter, error) {
			return throttler{&calls}, nil
		}}},
		Mutate: func(c *config.Config) { c.Backends["busy"] = config.Backend{Kind: "throttler"} },
		Models: []catalog.Model{{ID: model, Family: "converse", Input: []string{"TEXT"}, Output: []string{"TEXT"},
			Backends: []catalog.Route{{Backend: "busy", BackendModel: "b1", Priority: 0}, {Backend: "echo", BackendModel: "echo", Priority: 1}},
			Caps:     catalog.Capabilities{ContextWindow: 4096, MaxOutputTokens: 1000, System: true, Streaming: true}}},
	})
	key := apiKey(t, srv, "root")
	ctx := context.Background()
	oc, ac := openAIClient(srv.URL, key), anthropicClient(srv.URL, aoption.WithAPIKey(key))
	out, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("routed around")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Choices[0].Message.Content; got != "routed around" {
		t.Errorf("OpenAI text = %q", got)
	}
	st := ac.Messages.NewStreaming(ctx, anthropic.MessageNewParams{
		Model: model, MaxTokens: 100, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("streamed too"))},
	})
	var text strings.Builder
	for st.Next() {
		if d, ok := st.Current().AsAny().(anthropic.ContentBlockDeltaEvent); ok {
			text.WriteString(d.Delta.Text)
		}
	}
	if err := st.Err(); err != nil || text.String() != "streamed too" {
		t.Errorf("Anthropic stream: %q, %v", text.String(), err)
	}
	if calls.Load() != 2 {
		t.Errorf("the throttled backend saw %d calls, want 2", calls.Load())
	}
}

// blockingWriter is a ResponseWriter that, once a write has put until in
// the body, reports it on flushed and waits for release: the client has
// its whole answer, whether the server flushes it or a long answer went
// out as it was written.
type blockingWriter struct {
	*httptest.ResponseRecorder
	until            string
	flushed, release chan struct{}
	once             sync.Once
}

func (w *blockingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseRecorder.Write(b)
	if strings.Contains(w.Body.String(), w.until) {
		w.once.Do(func() {
			close(w.flushed)
			<-w.release
		})
	}
	return n, err
}

// A dialect call's answer, a stream's final event included, leaves before
// its bookkeeping; what reads the bookkeeping (here the audit trail) waits
// for the bookkeeping of every call already answered.
func TestDialectAnswerBeforeBookkeeping(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{Models: dialectModels()})
	key := apiKey(t, srv, "root")
	for _, tc := range []struct{ name, body, until string }{
		{"plain", `{"model":"` + echoModel + `","messages":[{"role":"user","content":"hi"}]}`, `"chat.completion"`},
		{"stream", `{"model":"` + echoModel + `","stream":true,"messages":[{"role":"user","content":"hi"}]}`, "data: [DONE]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &blockingWriter{ResponseRecorder: httptest.NewRecorder(), until: tc.until,
				flushed: make(chan struct{}), release: make(chan struct{})}
			r := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(tc.body))
			r.Header.Set("Authorization", "Bearer "+key)
			r.Header.Set("Content-Type", "application/json")
			served := make(chan struct{})
			go func() {
				defer close(served)
				srv.Srv.Handler().ServeHTTP(w, r)
			}()
			select {
			case <-w.flushed: // the whole answer is out; the handler waits in Write
			case <-served:
				t.Fatal("the handler returned without sending its answer first")
			}
			id := w.Header().Get("X-Request-Id")
			found := make(chan bool, 1)
			go func() {
				evs, err := func() ([]audit.Event, error) {
					if err := srv.Srv.FlushAudit(context.Background()); err != nil {
						return nil, err
					}
					return audit.Lookup(srv.Srv.AuditDir(), audit.Filter{Resource: echoModel})
				}()
				if err != nil {
					t.Error(err)
				}
				ok := false
				for _, e := range evs {
					ok = ok || e.RequestID == id
				}
				found <- ok
			}()
			select {
			case <-found:
				t.Fatal("the audit trail was read before the answered call's bookkeeping")
			case <-time.After(100 * time.Millisecond):
			}
			close(w.release)
			<-served
			if !<-found {
				t.Errorf("no audit event for request %s", id)
			}
		})
	}
}
