package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/openai"
)

// The dialect benchmarks run POST /v1/chat/completions through the whole
// dialect pipeline (request ID, auth, decode to the canonical request,
// authorization, metrics, audit) and the openai backend, whose upstream is
// an in-process Chat Completions server answering with the shapes of
// shared/bench's mock (a 50-token answer; 50 one-token chunks when
// streamed). The handler is called directly, so ns/op is Outcrop's CPU
// plus the upstream's, and allocs/op counts both. Run:
//
//	go test -run '^$' -bench 'DialectChat' -benchmem -benchtime 2s ./internal/server/
//
// bench/dialects/run.sh measures the same path over loopback against a
// bare pass-through proxy.

var (
	benchChatBody   = []byte(`{"model":"openai.gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write one short paragraph about the sea, in plain words."}],"max_tokens":64,"temperature":0.2}`)
	benchStreamBody = []byte(`{"model":"openai.gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write one short paragraph about the sea, in plain words."}],"max_tokens":64,"temperature":0.2,"stream":true}`)
)

// benchUpstream answers Chat Completions like shared/bench's mock.
func benchUpstream() http.Handler {
	words := strings.Repeat("word ", 50)
	answer := fmt.Sprintf(`{"id":"chatcmpl-mock","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","system_fingerprint":"fp_mock","choices":[{"index":0,"message":{"role":"assistant","content":%q,"refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":50,"total_tokens":70}}`, words)
	var stream bytes.Buffer
	chunk := func(delta, finish string) {
		fmt.Fprintf(&stream, `data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","system_fingerprint":"fp_mock","choices":[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}]}`+"\n\n", delta, finish)
	}
	chunk(`{"role":"assistant","content":""}`, "null")
	for range 50 {
		chunk(`{"content":"word "}`, "null")
	}
	chunk(`{}`, `"stop"`)
	stream.WriteString(`data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":50,"total_tokens":70}}` + "\n\n")
	stream.WriteString("data: [DONE]\n\n")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte(`"stream":true`)) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write(stream.Bytes())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	})
}

func benchDialectServer(b *testing.B) http.Handler {
	up := httptest.NewServer(benchUpstream())
	b.Cleanup(up.Close)
	srv := outcroptest.NewServer(b, outcroptest.Options{
		Extra: []provider.Spec{openai.Spec},
		Models: []catalog.Model{{ID: "openai.gpt-4o-mini", Name: "gpt-4o-mini", Provider: "OpenAI", Family: "converse",
			Backend: "mock", BackendModel: "gpt-4o-mini", Input: []string{"TEXT"}, Output: []string{"TEXT"},
			Caps: catalog.Capabilities{ContextWindow: 128000, MaxOutputTokens: 4096, System: true, Streaming: true}}},
		Mutate: func(c *config.Config) {
			c.Backends["mock"] = config.Backend{Kind: "openai", Config: map[string]any{"baseURL": up.URL + "/v1", "apiKey": "bench"}}
			c.Auth.Mode = "any"
		},
		KeyCacheTTL: time.Minute,
	})
	return srv.Srv.Handler()
}

func benchDialect(b *testing.B, body []byte, want string) {
	h := benchDialectServer(b)
	mk := func() *http.Request {
		r := httptest.NewRequest("POST", "/v1/chat/completions", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer bench")
		return r
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, mk())
	if w.Code != 200 || !strings.Contains(w.Body.String(), want) {
		b.Fatalf("status %d, want 200 and %q in:\n%s", w.Code, want, w.Body)
	}
	serveLoop(b, h, mk)
}

func BenchmarkDialectChatServeHTTP(b *testing.B) { benchDialect(b, benchChatBody, "choices") }

func BenchmarkDialectChatStreamServeHTTP(b *testing.B) { benchDialect(b, benchStreamBody, "[DONE]") }
