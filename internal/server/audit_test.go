package server_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/outcrop/outcrop/internal/audit"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/quota"
	"github.com/outcrop/outcrop/internal/testredis"
)

func flushAudit(t *testing.T, srv *outcroptest.Server) {
	t.Helper()
	if err := srv.Srv.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func lookup(t *testing.T, srv *outcroptest.Server, f audit.Filter) []audit.Event {
	t.Helper()
	flushAudit(t, srv)
	evs, err := audit.Lookup(srv.Srv.AuditDir(), f)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// grepDataDir fails the test if any file under the data directory holds s.
func grepDataDir(t *testing.T, dir, what, s string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("%s holds the %s", p, what)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Fatalf("grep saw only %d files in %s", n, dir)
	}
}

func TestAuditRecordsCalls(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	ctx := context.Background()
	rc := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	prompt := "audit-canary-" + time.Now().Format("150405.000000000") + "-zebra-tangerine"

	out, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{
		ModelId: aws.String(echoModel), Messages: userText(prompt),
		System: []rt.SystemContentBlock{&rt.SystemContentBlockMemberText{Value: "system-" + prompt}},
	})
	if err != nil {
		t.Fatal(err)
	}
	text := out.Output.(*rt.ConverseOutputMemberMessage).Value.Content[0].(*rt.ContentBlockMemberText).Value
	if !strings.Contains(text, prompt) {
		t.Fatalf("echo output %q does not repeat the prompt", text)
	}
	stream, err := rc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(echoModel), Messages: userText("stream " + prompt)})
	if err != nil {
		t.Fatal(err)
	}
	for range stream.GetStream().Events() {
	}
	stream.GetStream().Close()
	if _, err := rc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(echoModel), ContentType: aws.String("application/json"),
		Body: []byte(`{"messages":[{"role":"user","content":[{"text":"invoke ` + prompt + `"}]}]}`)}); err != nil {
		t.Fatal(err)
	}
	// Failures: an unknown model, and a user without permission.
	_, err = rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("no.such-model-v1:0"), Messages: userText(prompt)})
	wantCode, _ := apiError(t, err)
	k := newUser(t, srv, "auditee", nil)
	_, err = runtimeClient(srv, k.ID, k.Secret).Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText(prompt)})
	if code, _ := apiError(t, err); code != "AccessDeniedException" {
		t.Fatalf("user without policy: %s", code)
	}
	// A bad signature is recorded before authentication.
	if _, err := runtimeClient(srv, srv.Key.ID, "wrong-secret").Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText(prompt)}); err == nil {
		t.Fatal("wrong secret accepted")
	}
	// Management events: a read and a write with response elements.
	bc := bedrockClient(srv, srv.Key.ID, srv.Key.Secret)
	if _, err := bc.ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{ByProvider: aws.String("Outcrop")}); err != nil {
		t.Fatal(err)
	}
	offers, err := bc.ListFoundationModelAgreementOffers(ctx, &bedrock.ListFoundationModelAgreementOffersInput{ModelId: aws.String(echoModel)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bc.CreateFoundationModelAgreement(ctx, &bedrock.CreateFoundationModelAgreementInput{ModelId: aws.String(echoModel), OfferToken: offers.Offers[0].OfferToken}); err != nil {
		t.Fatal(err)
	}

	rootARN := "arn:aws:iam::" + account + ":root"
	evs := lookup(t, srv, audit.Filter{EventName: "Converse"})
	if len(evs) != 4 {
		t.Fatalf("Converse events = %d, want 4: %+v", len(evs), evs)
	}
	ok := evs[3] // oldest
	if ok.ErrorCode != "" || ok.UserIdentity.Type != "Root" || ok.UserIdentity.ARN != rootARN || ok.UserIdentity.AccessKeyID != srv.Key.ID ||
		ok.UserIdentity.PrincipalID != account || ok.SourceIPAddress != "127.0.0.1" || !strings.Contains(ok.UserAgent, "aws-sdk-go") ||
		ok.EventSource != "bedrock.amazonaws.com" || ok.AWSRegion != "us-east-1" || ok.RecipientAccountID != account ||
		ok.EventCategory != "Management" || !ok.ManagementEvent || !ok.ReadOnly || ok.EventType != "AwsApiCall" || ok.EventVersion == "" ||
		ok.RequestID == "" || ok.EventID == "" || string(ok.RequestParameters) != `{"modelId":"`+echoModel+`"}` || string(ok.ResponseElements) != "null" {
		t.Errorf("successful Converse event = %+v (params %s)", ok, ok.RequestParameters)
	}
	if len(ok.Resources) != 1 || ok.Resources[0].ARN != echoARN || ok.Resources[0].Type != "AWS::Bedrock::Model" {
		t.Errorf("resources = %+v", ok.Resources)
	}
	if e := evs[2]; e.ErrorCode != wantCode || e.ErrorMessage == "" {
		t.Errorf("unknown model event: errorCode %q message %q, want %s", e.ErrorCode, e.ErrorMessage, wantCode)
	}
	if e := evs[1]; e.ErrorCode != "AccessDeniedException" || e.UserIdentity.Type != "IAMUser" || e.UserIdentity.UserName != "auditee" ||
		!strings.HasPrefix(e.UserIdentity.PrincipalID, "AIDA") || !strings.Contains(e.ErrorMessage, "auditee") {
		t.Errorf("denied event = %+v", e)
	}
	if e := evs[0]; e.ErrorCode != "InvalidSignatureException" || e.UserIdentity.Type != "Unknown" {
		t.Errorf("bad signature event = %+v", e)
	}
	for name, want := range map[string]int{"ConverseStream": 1, "InvokeModel": 1, "ListFoundationModels": 1, "CreateFoundationModelAgreement": 1} {
		if got := lookup(t, srv, audit.Filter{EventName: name}); len(got) != want {
			t.Errorf("%s events = %d, want %d", name, len(got), want)
		}
	}
	if e := lookup(t, srv, audit.Filter{EventName: "ListFoundationModels"})[0]; string(e.RequestParameters) != `{"byProvider":"Outcrop"}` {
		t.Errorf("ListFoundationModels parameters = %s", e.RequestParameters)
	}
	e := lookup(t, srv, audit.Filter{EventName: "CreateFoundationModelAgreement"})[0]
	if e.ReadOnly || string(e.ResponseElements) != `{"modelId":"`+echoModel+`"}` || !strings.Contains(string(e.RequestParameters), `"modelId"`) {
		t.Errorf("CreateFoundationModelAgreement: readOnly %v, params %s, response %s", e.ReadOnly, e.RequestParameters, e.ResponseElements)
	}
	// Lookup by principal and resource.
	if got := lookup(t, srv, audit.Filter{Principal: "auditee"}); len(got) != 1 {
		t.Errorf("events of auditee = %d, want 1", len(got))
	}
	if got := lookup(t, srv, audit.Filter{Resource: echoModel}); len(got) < 6 {
		t.Errorf("events naming the echo model = %d, want at least 6", len(got))
	}

	// The same prompt through the OpenAI and Anthropic dialects.
	apiKey := apiKey(t, srv, "root")
	if err := chatText(openAIClient(srv.URL, apiKey), echoModel, "openai "+prompt); err != nil {
		t.Fatal(err)
	}
	if err := messageText(anthropicClient(srv.URL, aoption.WithAPIKey(apiKey)), echoModel, "anthropic "+prompt); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, srv, audit.Filter{EventName: "InvokeModel"}); len(got) != 3 {
		t.Errorf("InvokeModel events with the dialects' = %d, want 3", len(got))
	}

	// Nothing in the data directory holds the prompt, the output, or a secret.
	dir := srv.Config.DataDir
	grepDataDir(t, dir, "prompt", prompt)
	// Access keys' secrets are in the key store (SigV4 needs them), never in the trail.
	grepDataDir(t, srv.Srv.AuditDir(), "secret key of the user", k.Secret)
	grepDataDir(t, srv.Srv.AuditDir(), "secret key of the root", srv.Key.Secret)
	grepDataDir(t, srv.Srv.AuditDir(), "API key", apiKey)
	srv.HTTP.Close()
	if err := srv.Srv.Close(); err != nil {
		t.Fatal(err)
	}
	grepDataDir(t, dir, "prompt", prompt)
	key, _ := audit.ReadKey(srv.Srv.AuditDir())
	if rep, err := audit.Verify(srv.Srv.AuditDir(), key); err != nil || !rep.OK() {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
}

// TestAuditVerifyDetects edits and deletes records that the server wrote.
func TestAuditVerifyDetects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func([]string) []string
		want   string
	}{
		{"edited", func(l []string) []string {
			l[1] = strings.Replace(l[1], `"errorCode":"AccessDeniedException"`, `"errorCode":""`, 1)
			l[1] = strings.Replace(l[1], `"eventName":"Converse"`, `"eventName":"GetFoundationModel"`, 1)
			return l
		}, "record 2 was modified"},
		{"deleted", func(l []string) []string { return append(l[:1:1], l[2:]...) }, "record 2 was deleted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := outcroptest.NewServer(t, outcroptest.Options{})
			rc := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
			for range 4 {
				if _, err := rc.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("hi")}); err != nil {
					t.Fatal(err)
				}
			}
			flushAudit(t, srv)
			dir := srv.Srv.AuditDir()
			files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
			if len(files) != 1 {
				t.Fatalf("trail files = %v", files)
			}
			key, _ := audit.ReadKey(dir)
			if rep, _ := audit.Verify(dir, key); !rep.OK() {
				t.Fatalf("untouched trail: %v", rep.Problems)
			}
			b, _ := os.ReadFile(files[0])
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			if err := os.WriteFile(files[0], []byte(strings.Join(tc.tamper(lines), "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			rep, err := audit.Verify(dir, key)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || !strings.Contains(rep.Problems[0].String(), tc.want) {
				t.Errorf("Verify after %s = %v, want %q", tc.name, rep.Problems, tc.want)
			}
		})
	}
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestThrottling(t *testing.T) {
	clk := &testClock{t: time.Now()}
	srv := outcroptest.NewServer(t, outcroptest.Options{Now: clk.Now, Mutate: func(c *config.Config) {
		c.Quotas.Models = map[string]config.QuotaLimit{echoModel: {RequestsPerMinute: 2}}
		c.Quotas.Principals = map[string]config.QuotaLimit{"tpm": {TokensPerMinute: 60}}
		c.Quotas.Keys = map[string]config.QuotaLimit{"*": {RequestsPerMinute: 100}}
	}})
	ctx := context.Background()
	rc := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	converse := func(c *bedrockruntime.Client, text string) error {
		_, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText(text)})
		return err
	}
	for i := range 2 {
		if err := converse(rc, "hi"); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	err := converse(rc, "hi")
	if err == nil {
		t.Fatal("third request in a minute admitted")
	}
	if code, status := apiError(t, err); code != "ThrottlingException" || status != 429 || !strings.Contains(err.Error(), quota.MsgRequests) {
		t.Fatalf("third request: %s %d %v", code, status, err)
	}
	// InvokeModel counts against the same model quota; other operations do not.
	if _, err := bedrockClient(srv, srv.Key.ID, srv.Key.Secret).ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{}); err != nil {
		t.Fatal(err)
	}
	clk.Add(29 * time.Second)
	if err := converse(rc, "hi"); err == nil {
		t.Fatal("admitted before a request's worth refilled")
	}
	clk.Add(time.Second)
	if err := converse(rc, "hi"); err != nil {
		t.Fatalf("after 30 s: %v", err)
	}
	if evs := lookup(t, srv, audit.Filter{ErrorsOnly: true}); len(evs) != 2 || evs[0].ErrorCode != "ThrottlingException" || evs[0].ErrorMessage != quota.MsgRequests {
		t.Errorf("throttled calls in the trail = %+v", evs)
	}

	// Tokens: the user "tpm" may use 60 a minute. The echo backend's usage
	// is reported after the call, so the first call's real tokens use up
	// the bucket and the next one is refused until it refills. (The clock
	// moves at most minutes: SigV4 checks it against the SDK's.)
	clk.Add(time.Minute)
	k := newUser(t, srv, "tpm", nil, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:*","Resource":"*"}]}`)
	uc := runtimeClient(srv, k.ID, k.Secret)
	long := strings.Repeat("word ", 40)
	if err := converse(uc, long); err != nil {
		t.Fatalf("first call: %v", err)
	}
	err = converse(uc, "hi")
	if err == nil {
		t.Fatal("second call admitted after the minute's tokens were used")
	}
	if code, status := apiError(t, err); code != "ThrottlingException" || status != 429 || !strings.Contains(err.Error(), quota.MsgTokens) {
		t.Fatalf("over the token quota: %s %d %v", code, status, err)
	}
	clk.Add(3 * time.Minute)
	if err := converse(uc, "hi"); err != nil {
		t.Fatalf("after the debt is repaid: %v", err)
	}
}

// BenchmarkPipelineServeHTTPGoverned is BenchmarkPipelineServeHTTP with
// quotas configured on the model, the principal and the key (high enough
// never to throttle), so every request passes through the limiter, and
// the audit trail recording every call as always.
func BenchmarkPipelineServeHTTPGoverned(b *testing.B) {
	lim := map[string]config.QuotaLimit{"*": {RequestsPerMinute: 1 << 30, TokensPerMinute: 1 << 30}}
	srv := outcroptest.NewServer(b, outcroptest.Options{KeyCacheTTL: time.Minute, Mutate: func(c *config.Config) {
		c.Quotas = config.Quotas{Models: lim, Principals: lim, Keys: lim}
	}})
	tmpl := signedRequest(b, "http://"+srv.HTTP.Listener.Addr().String(), srv)
	h := srv.Srv.Handler()
	serveLoop(b, h, func() *http.Request {
		r := tmpl.Clone(context.Background())
		r.Body = io.NopCloser(bytes.NewReader(benchBody))
		r.RequestURI = tmpl.URL.RequestURI()
		return r
	})
}

// TestThrottlingAcrossReplicas runs two servers whose quotas are kept in
// one real Redis: a model's requests-per-minute limit holds over both, as
// for replicas behind a load balancer.
func TestThrottlingAcrossReplicas(t *testing.T) {
	url := testredis.URL(t)
	clk := &testClock{t: time.Now()}
	mutate := func(c *config.Config) {
		c.Quotas.Models = map[string]config.QuotaLimit{echoModel: {RequestsPerMinute: 3}}
		c.Quotas.Redis = url
	}
	a := outcroptest.NewServer(t, outcroptest.Options{Now: clk.Now, Mutate: mutate})
	b := outcroptest.NewServer(t, outcroptest.Options{Now: clk.Now, Mutate: mutate})
	ctx := context.Background()
	clients := []*bedrockruntime.Client{runtimeClient(a, a.Key.ID, a.Key.Secret), runtimeClient(b, b.Key.ID, b.Key.Secret)}
	converse := func(i int) error {
		_, err := clients[i%2].Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("hi")})
		return err
	}
	for i := range 3 {
		if err := converse(i); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	for i := range 2 {
		err := converse(i)
		if err == nil {
			t.Fatalf("replica %d admitted a 4th request in the minute", i)
		}
		if code, status := apiError(t, err); code != "ThrottlingException" || status != 429 {
			t.Fatalf("replica %d: %s %d %v", i, code, status, err)
		}
	}
	clk.Add(20 * time.Second) // one request refilled, for both
	if err := converse(1); err != nil {
		t.Fatalf("after 20 s: %v", err)
	}
	if err := converse(0); err == nil {
		t.Fatal("the refilled request was admitted twice")
	}
}
