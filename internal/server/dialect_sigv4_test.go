package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/outcroptest"
)

// TestDialectPathsAndSigV4: the OpenAI and Anthropic APIs answer under
// AWS's prefixes (/openai/v1, /anthropic/v1) as under /v1, and accept a
// SigV4 signature for bedrock (bedrock-runtime) or bedrock-mantle beside
// API keys; a signature for another service, a wrong secret, a stale date
// or a tampered body is refused, as is a call with no credentials at all.
func TestDialectPathsAndSigV4(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{})
	chat := `{"model":"` + echoModel + `","messages":[{"role":"user","content":"granite basalt"}]}`
	messages := `{"model":"` + echoModel + `","max_tokens":50,"messages":[{"role":"user","content":"granite basalt"}]}`
	type req struct {
		path, body string
		service    string // signed for this service; "" unsigned
		secret     string // "" the key's own
		age        time.Duration
		tamper     bool // the body sent differs from the one signed
		header     map[string]string
	}
	do := func(r req) (int, string) {
		t.Helper()
		body := r.body
		hr, err := http.NewRequest(http.MethodPost, srv.URL+r.path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		hr.Header.Set("Content-Type", "application/json")
		for k, v := range r.header {
			hr.Header.Set(k, v)
		}
		if r.service != "" {
			secret := srv.Key.Secret
			if r.secret != "" {
				secret = r.secret
			}
			sum := sha256.Sum256([]byte(body))
			creds := aws.Credentials{AccessKeyID: srv.Key.ID, SecretAccessKey: secret}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, hr, hex.EncodeToString(sum[:]), r.service, "us-east-1", time.Now().Add(-r.age)); err != nil {
				t.Fatal(err)
			}
		}
		if r.tamper {
			hr.Body = io.NopCloser(strings.NewReader(strings.Replace(body, "granite", "diorite", 1)))
			hr.ContentLength = int64(len(body))
		}
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name   string
		r      req
		status int
		want   string // in the body
	}{
		{"OpenAI under /openai/v1, signed for bedrock", req{path: "/openai/v1/chat/completions", body: chat, service: "bedrock"}, 200, `"content":"granite basalt"`},
		{"OpenAI under /v1, signed for bedrock-mantle", req{path: "/v1/chat/completions", body: chat, service: "bedrock-mantle"}, 200, `"content":"granite basalt"`},
		{"Anthropic under /anthropic/v1, signed for bedrock-mantle", req{path: "/anthropic/v1/messages", body: messages, service: "bedrock-mantle"}, 200, `"text":"granite basalt"`},
		{"Anthropic under /anthropic/v1 with an API key", req{path: "/anthropic/v1/messages", body: messages, header: map[string]string{"x-api-key": "bad-key"}}, 401, `authentication_error`},
		{"signed for another service", req{path: "/openai/v1/chat/completions", body: chat, service: "s3"}, 401, `Credential should be scoped to correct service`},
		{"wrong secret", req{path: "/openai/v1/chat/completions", body: chat, service: "bedrock", secret: "wrongwrongwrongwrongwrongwrongwrongwrong"}, 401, `signature we calculated does not match`},
		{"stale date", req{path: "/anthropic/v1/messages", body: messages, service: "bedrock", age: time.Hour}, 401, `authentication_error`},
		{"body changed after signing", req{path: "/openai/v1/chat/completions", body: chat, service: "bedrock", tamper: true}, 401, `invalid_api_key`},
		{"no credentials under /openai/v1", req{path: "/openai/v1/chat/completions", body: chat}, 401, `You didn't provide an API key`},
		{"no credentials under /anthropic/v1", req{path: "/anthropic/v1/messages", body: messages}, 401, `x-api-key header is required`},
		{"unknown path under /anthropic/v1", req{path: "/anthropic/v1/nothing", body: messages, service: "bedrock"}, 404, `not_found_error`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(tc.r)
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Errorf("%s %s = %d %s, want %d and %q", http.MethodPost, tc.r.path, status, body, tc.status, tc.want)
			}
		})
	}
	t.Run("auth mode any", func(t *testing.T) {
		open := outcroptest.NewServer(t, outcroptest.Options{Mutate: func(c *config.Config) { c.Auth.Mode = "any" }})
		resp, err := http.Post(open.URL+"/openai/v1/chat/completions", "application/json", strings.NewReader(chat))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || !strings.Contains(string(b), "granite basalt") {
			t.Errorf("unsigned call with auth mode any = %d %s", resp.StatusCode, b)
		}
	})
}
