package server_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/outcroptest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixedClock makes latencies zero so responses are byte-stable.
func fixedClock() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }

// do sends a request and renders status, the stable headers and the body.
func do(t *testing.T, method, u, body string) string {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d\n", resp.StatusCode)
	var keys []string
	for k := range resp.Header {
		if k != "Date" && k != "X-Amzn-Requestid" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&sb, "%s: %s\n", k, strings.Join(resp.Header[k], ","))
	}
	sb.WriteString("\n")
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/vnd.amazon.eventstream") {
		fmt.Fprintf(&sb, "%q", b) // frames carry CRCs; quoting keeps the golden file text
	} else {
		sb.Write(b)
	}
	return sb.String()
}

// TestWireGolden pins the exact bytes of representative responses.
func TestWireGolden(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{Now: fixedClock, Mutate: func(c *config.Config) { c.Auth.Mode = "any" }})
	model := url.PathEscape(echoModel)
	cases := []struct{ name, method, path, body string }{
		{"converse_text", "POST", "/model/" + model + "/converse", `{"messages":[{"role":"user","content":[{"text":"hello wire"}]}]}`},
		{"converse_tool_use", "POST", "/model/" + model + "/converse", `{"toolConfig":{"tools":[{"toolSpec":{"name":"lookup","inputSchema":{"json":{"type":"object"}}}}]},"messages":[{"role":"user","content":[{"text":"tool:lookup"}]}]}`},
		{"converse_stream", "POST", "/model/" + model + "/converse-stream", `{"messages":[{"role":"user","content":[{"text":"a b"}]}]}`},
		{"converse_stream_error_midway", "POST", "/model/" + model + "/converse-stream", `{"messages":[{"role":"user","content":[{"text":"failmid:model"}]}]}`},
		{"invoke", "POST", "/model/" + model + "/invoke", `{"messages":[{"role":"user","content":[{"text":"x y"}]}]}`},
		{"invoke_stream", "POST", "/model/" + model + "/invoke-with-response-stream", `{"messages":[{"role":"user","content":[{"text":"x"}]}]}`},
		{"count_tokens", "POST", "/model/" + model + "/count-tokens", `{"input":{"converse":{"messages":[{"role":"user","content":[{"text":"one two"}]}]}}}`},
		{"validation_error", "POST", "/model/" + model + "/converse", `{"messages":[{"role":"assistant","content":[{"text":"x"}]}]}`},
		{"unknown_model", "POST", "/model/amazon.nope-v1/converse", `{"messages":[{"role":"user","content":[{"text":"x"}]}]}`},
		{"list_foundation_models", "GET", "/foundation-models", ""},
		{"not_implemented", "GET", "/guardrails", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := do(t, c.method, srv.URL+c.path, c.body)
			golden := "testdata/wire/" + c.name + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", c.name, diff)
			}
		})
	}
}

// TestH2C drives the server over cleartext HTTP/2 with prior knowledge, as
// the JS SDK does: the signature then covers :authority.
func TestH2C(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	var proto string
	client := bedrockruntime.New(bedrockruntime.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(srv.Key.ID, srv.Key.Secret, ""),
		HTTPClient: &http.Client{Transport: outcroptest.BodyCopyTransport{Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := tr.RoundTrip(r)
			if err == nil {
				proto = resp.Proto
			}
			return resp, err
		})}},
	})
	_, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(echoModel), Messages: userText("over h2c")})
	if err != nil {
		t.Fatal(err)
	}
	if proto != "HTTP/2.0" {
		t.Errorf("protocol = %q, want HTTP/2.0", proto)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
