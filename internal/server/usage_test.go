package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/store/sqlite"
	"github.com/outcrop/outcrop/internal/usage"
)

func TestUsageAndBudgets(t *testing.T) {
	clk := &testClock{t: time.Now()} // SigV4 checks it against the signing time
	srv := outcroptest.NewServer(t, outcroptest.Options{Now: clk.Now, Mutate: func(c *config.Config) {
		// A dear echo model: $1 per 1k input tokens, $2 per 1k output.
		c.Prices = map[string]config.Price{echoModel: {InputPer1K: 1, OutputPer1K: 2}}
		c.Budgets = []config.Budget{{Principal: "spender", Limit: 0.005, Period: "day", Action: "block"}}
	}})
	ctx := context.Background()
	rc := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	var wantIn, wantOut int64
	for i := range 3 {
		out, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("count me please")})
		if err != nil {
			t.Fatalf("converse %d: %v", i, err)
		}
		wantIn += int64(*out.Usage.InputTokens)
		wantOut += int64(*out.Usage.OutputTokens)
	}
	if err := srv.Srv.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, srv.Config.DataDir+"/outcrop.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Usage(ctx, usage.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("rows = %+v", rows)
	}
	r := rows[0]
	want := usage.Row{Day: clk.Now().UTC().Format("2006-01-02"), Model: echoModel, Principal: "root", Key: srv.Key.ID, Requests: 3,
		InputTokens: wantIn, OutputTokens: wantOut, CostMicros: wantIn*1000 + wantOut*2000}
	if r != want {
		t.Fatalf("row = %+v, want %+v", r, want)
	}

	// A blocking budget: the user's first call spends more than $0.005 and
	// the next is refused with ThrottlingException and a clear message.
	k := newUser(t, srv, "spender", nil, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:*","Resource":"*"}]}`)
	uc := runtimeClient(srv, k.ID, k.Secret)
	if _, err := uc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("spend it all")}); err != nil {
		t.Fatal(err)
	}
	_, err = uc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("once more")})
	code, status := apiError(t, err)
	if code != "ThrottlingException" || status != 429 || !strings.Contains(err.Error(), "Budget exceeded: principal spender has spent $") {
		t.Fatalf("over budget: %s %d %v", code, status, err)
	}
	// /metrics: the refusal is a throttle of the model (CloudWatch's
	// InvocationThrottles), the budget counts it, and cost accrues.
	metrics := scrape(t, srv.URL)
	for _, want := range []string{
		`outcrop_model_invocations_total{model_id="` + echoModel + `",outcome="throttled"} 1`,
		`outcrop_model_invocations_total{model_id="` + echoModel + `",outcome="success"} 4`,
		`outcrop_budget_exceeded_total{action="block",name="spender",scope="principal"} 1`,
		`outcrop_model_cost_dollars_total{model_id="` + echoModel + `"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The usage API: signed, authorized as outcrop:GetUsage (the user's
	// policy allows bedrock:* only), grouped as asked.
	var report struct {
		GroupBy []string `json:"groupBy"`
		Rows    []struct {
			Principal string  `json:"principal"`
			Requests  int64   `json:"requests"`
			Cost      float64 `json:"cost"`
		} `json:"rows"`
	}
	if code := getSigned(t, srv, srv.Key.ID, srv.Key.Secret, "/outcrop/usage?groupBy=principal", &report); code != 200 {
		t.Fatalf("GET /outcrop/usage: %d", code)
	}
	if len(report.Rows) != 2 || report.Rows[0].Principal != "root" || report.Rows[0].Requests != 3 ||
		report.Rows[1].Principal != "spender" || report.Rows[1].Requests != 1 || report.Rows[1].Cost <= 0.005 {
		t.Errorf("usage report = %+v", report)
	}
	if code := getSigned(t, srv, k.ID, k.Secret, "/outcrop/usage", nil); code != 403 {
		t.Errorf("user without outcrop:GetUsage: %d", code)
	}
	// Root is not bound by the user's budget. (Period rollover is tested
	// in internal/usage with an injected clock; SigV4 bounds this one.)
	if _, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("root")}); err != nil {
		t.Fatal(err)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// getSigned sends a SigV4-signed GET to path and decodes a 200 answer into v.
func getSigned(t *testing.T, srv *outcroptest.Server, id, secret, path string, v any) int {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	empty := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, req,
		hex.EncodeToString(empty[:]), "bedrock", srv.Config.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == 200 && v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}
