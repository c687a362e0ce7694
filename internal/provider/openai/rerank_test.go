package openai

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// The upstream answers below are shaped as the servers document their
// rerank endpoints: vLLM (/v1/rerank: id, model, usage, results with
// index, document {text} and relevance_score, best first), Cohere v2
// (/v2/rerank: id, results with index and relevance_score, meta) and a
// server that lists results in input order, which callers must not see.
func TestRerank(t *testing.T) {
	docs := []string{"Paris is the capital of France.", "Bananas are yellow.", "France borders Spain."}
	for _, tc := range []struct {
		name     string
		req      provider.RerankRequest
		status   int
		answer   string
		wantBody map[string]any
		want     []provider.RerankResult
		wantKind fault.Kind
	}{
		{
			name: "vllm",
			req:  provider.RerankRequest{Model: "BAAI/bge-reranker-base", Query: "capital of France", Documents: docs, TopN: 2},
			answer: `{"id":"rerank-8c5e","model":"BAAI/bge-reranker-base","usage":{"total_tokens":38},"results":[
				{"index":0,"document":{"text":"Paris is the capital of France."},"relevance_score":0.9990234375},
				{"index":2,"document":{"text":"France borders Spain."},"relevance_score":0.0421142578125}]}`,
			wantBody: map[string]any{"model": "BAAI/bge-reranker-base", "query": "capital of France", "documents": []any{docs[0], docs[1], docs[2]}, "top_n": float64(2)},
			want:     []provider.RerankResult{{Index: 0, Score: 0.9990234375}, {Index: 2, Score: 0.0421142578125}},
		},
		{
			name: "cohere_v2",
			req:  provider.RerankRequest{Model: "rerank-v3.5", Query: "capital of France", Documents: docs, Extra: json.RawMessage(`{"max_tokens_per_doc":512,"top_n":99}`)},
			answer: `{"id":"07734bd2-2473-4f07-94e1-0d9f0e6843cf","results":[{"index":0,"relevance_score":0.8},{"index":2,"relevance_score":0.2},{"index":1,"relevance_score":0.01}],
				"meta":{"api_version":{"version":"2"},"billed_units":{"search_units":1}}}`,
			wantBody: map[string]any{"model": "rerank-v3.5", "query": "capital of France", "documents": []any{docs[0], docs[1], docs[2]}, "max_tokens_per_doc": float64(512), "top_n": float64(99)},
			want:     []provider.RerankResult{{Index: 0, Score: 0.8}, {Index: 2, Score: 0.2}, {Index: 1, Score: 0.01}},
		},
		{
			name:     "input_order",
			req:      provider.RerankRequest{Model: "m", Query: "q", Documents: docs, TopN: 1},
			answer:   `{"model":"m","object":"list","usage":{"prompt_tokens":30,"total_tokens":30},"results":[{"index":0,"relevance_score":-3.5},{"index":1,"relevance_score":-11.0},{"index":2,"relevance_score":2.25}]}`,
			wantBody: map[string]any{"model": "m", "query": "q", "documents": []any{docs[0], docs[1], docs[2]}, "top_n": float64(1)},
			want:     []provider.RerankResult{{Index: 2, Score: 2.25}},
		},
		{
			name:     "bad_index",
			req:      provider.RerankRequest{Model: "m", Query: "q", Documents: docs},
			answer:   `{"results":[{"index":3,"relevance_score":0.5}]}`,
			wantKind: fault.ModelFailed,
		},
		{
			name:     "no_score",
			req:      provider.RerankRequest{Model: "m", Query: "q", Documents: docs},
			answer:   `{"results":[{"index":1}]}`,
			wantKind: fault.ModelFailed,
		},
		{
			name:     "unknown_model",
			req:      provider.RerankRequest{Model: "nope", Query: "q", Documents: docs},
			status:   http.StatusNotFound,
			answer:   `{"object":"error","message":"The model nope does not exist.","type":"NotFoundError","code":404}`,
			wantKind: fault.ModelNotReady,
		},
		{
			name:     "not_a_reranker",
			req:      provider.RerankRequest{Model: "chat", Query: "q", Documents: docs},
			status:   http.StatusBadRequest,
			answer:   `{"object":"error","message":"The model does not support Rerank API","type":"BadRequestError","code":400}`,
			wantKind: fault.Invalid,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gotBody map[string]any
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/v1/rerank" {
					t.Errorf("upstream got %s %s, want POST /v1/rerank", r.Method, r.URL.Path)
				}
				if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
					t.Errorf("Authorization = %q", got)
				}
				b, _ := io.ReadAll(r.Body)
				if err := json.Unmarshal(b, &gotBody); err != nil {
					t.Errorf("body %s: %v", b, err)
				}
				w.Header().Set("Content-Type", "application/json")
				if tc.status != 0 {
					w.WriteHeader(tc.status)
				}
				io.WriteString(w, tc.answer)
			}))
			defer srv.Close()
			rr, ok := newTest(t, srv.URL).(provider.Reranker)
			if !ok {
				t.Fatal("the openai backend is not a provider.Reranker")
			}
			resp, err := rr.Rerank(context.Background(), &tc.req)
			if tc.wantKind != fault.Internal {
				if fault.KindOf(err) != tc.wantKind {
					t.Fatalf("Rerank error = %v (kind %v), want kind %v", err, fault.KindOf(err), tc.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.wantBody, gotBody); d != "" {
				t.Errorf("upstream body (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.want, resp.Results); d != "" {
				t.Errorf("results (-want +got):\n%s", d)
			}
		})
	}
}
