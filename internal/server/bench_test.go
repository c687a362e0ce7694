package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/outcrop/outcrop/internal/family/converse"
	"github.com/outcrop/outcrop/internal/outcroptest"
)

// The gateway benchmarks compare Converse through Outcrop's whole pipeline
// (request ID, SigV4 verification, authorization, Converse decode and
// validation, catalog, echo backend, encode, metrics) with a bare handler
// that only decodes the same request and encodes a response. Run:
//
//	go test -run '^$' -bench 'Pipeline|Bare' -benchtime 2s ./internal/server/
//
// ServeHTTP variants measure server CPU per request (one goroutine, no
// network); HTTP variants measure loopback throughput with parallel clients.

var benchBody = []byte(`{"messages":[{"role":"user","content":[{"text":"What is the capital of France? Answer in one word."}]}],"inferenceConfig":{"maxTokens":64,"temperature":0.5}}`)

func signedRequest(b *testing.B, base string, srv *outcroptest.Server) *http.Request {
	req, err := http.NewRequest("POST", base+"/model/"+url.PathEscape(echoModel)+"/converse", bytes.NewReader(benchBody))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(benchBody)
	creds := aws.Credentials{AccessKeyID: srv.Key.ID, SecretAccessKey: srv.Key.Secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "bedrock", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	return req
}

func bareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req converse.Request
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		text := *req.Messages[0].Content[0].Text
		resp := converse.Response{StopReason: "end_turn", Usage: converse.Usage{InputTokens: 10, OutputTokens: 10, TotalTokens: 20}}
		resp.Output.Message = &converse.OutMessage{Role: "assistant", Content: []converse.OutContentBlock{{Text: &text}}}
		out, _ := json.Marshal(resp)
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
	})
}

func serveLoop(b *testing.B, h http.Handler, mk func() *http.Request) {
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := mk()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

func BenchmarkPipelineServeHTTP(b *testing.B) {
	srv := outcroptest.NewServer(b, outcroptest.Options{KeyCacheTTL: time.Minute})
	tmpl := signedRequest(b, "http://"+srv.HTTP.Listener.Addr().String(), srv)
	h := srv.Srv.Handler()
	serveLoop(b, h, func() *http.Request {
		r := tmpl.Clone(context.Background())
		r.Body = io.NopCloser(bytes.NewReader(benchBody))
		r.RequestURI = tmpl.URL.RequestURI()
		return r
	})
}

func BenchmarkBareServeHTTP(b *testing.B) {
	serveLoop(b, bareHandler(), func() *http.Request {
		return httptest.NewRequest("POST", "/model/x/converse", bytes.NewReader(benchBody))
	})
}

func httpLoop(b *testing.B, mk func() *http.Request) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Do(mk())
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

func BenchmarkPipelineHTTP(b *testing.B) {
	srv := outcroptest.NewServer(b, outcroptest.Options{KeyCacheTTL: time.Minute})
	tmpl := signedRequest(b, srv.URL, srv)
	httpLoop(b, func() *http.Request {
		r := tmpl.Clone(context.Background())
		r.Body = io.NopCloser(bytes.NewReader(benchBody))
		return r
	})
}

func BenchmarkBareHTTP(b *testing.B) {
	hs := httptest.NewServer(bareHandler())
	b.Cleanup(hs.Close)
	httpLoop(b, func() *http.Request {
		r, _ := http.NewRequest("POST", hs.URL+"/model/x/converse", bytes.NewReader(benchBody))
		return r
	})
}

// benchPolicy is a user's policy for BenchmarkPipelineServeHTTPPolicy: two
// Deny statements that are tested and do not apply, then Allow statements
// with conditions on principal tags, source IP, region and time, so every
// request builds the full context and evaluates each statement.
const benchPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "OfficeOnly", "Effect": "Deny", "Action": "*", "Resource": "*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128", "10.0.0.0/8"]}}},
    {"Sid": "NoExpensive", "Effect": "Deny", "Action": "bedrock:Invoke*",
     "Resource": ["arn:aws:bedrock:*::foundation-model/anthropic.claude-3-opus*", "arn:aws:bedrock:*::foundation-model/meta.llama3-1-405b*"]},
    {"Sid": "List", "Effect": "Allow", "Action": ["bedrock:List*", "bedrock:Get*"], "Resource": "*"},
    {"Sid": "TeamModels", "Effect": "Allow", "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
     "Resource": "arn:aws:bedrock:*::foundation-model/outcrop.*",
     "Condition": {"StringEquals": {"aws:PrincipalTag/team": ["ml", "research"], "aws:RequestedRegion": "us-east-1"},
                   "DateLessThan": {"aws:CurrentTime": "2100-01-01T00:00:00Z"}}}
  ]
}`

// BenchmarkPipelineServeHTTPPolicy is BenchmarkPipelineServeHTTP as an IAM
// user whose policies are evaluated on every request (root skips them).
func BenchmarkPipelineServeHTTPPolicy(b *testing.B) {
	srv := outcroptest.NewServer(b, outcroptest.Options{KeyCacheTTL: time.Minute})
	ctx := context.Background()
	s := srv.Srv.IAM()
	if _, err := s.CreateUser(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	if err := s.TagEntity(ctx, "bench", map[string]string{"team": "ml"}, nil); err != nil {
		b.Fatal(err)
	}
	if err := s.PutInlinePolicy(ctx, "bench", "bench", benchPolicy); err != nil {
		b.Fatal(err)
	}
	k, err := s.CreateAccessKey(ctx, "bench", time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	srv.Key = k
	tmpl := signedRequest(b, "http://"+srv.HTTP.Listener.Addr().String(), srv)
	h := srv.Srv.Handler()
	serveLoop(b, h, func() *http.Request {
		r := tmpl.Clone(context.Background())
		r.Body = io.NopCloser(bytes.NewReader(benchBody))
		r.RequestURI = tmpl.URL.RequestURI()
		r.RemoteAddr = "127.0.0.1:40000"
		return r
	})
}
