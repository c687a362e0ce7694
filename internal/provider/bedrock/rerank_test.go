package bedrock_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/bedrock"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

// wordReranker is the upstream's reranker: a document scores the share of
// the query's words it contains. It remembers the last request.
type wordReranker struct {
	providertest.Echo
	mu   sync.Mutex
	last *provider.RerankRequest
}

func (w *wordReranker) Rerank(_ context.Context, req *provider.RerankRequest) (*provider.RerankResponse, error) {
	w.mu.Lock()
	w.last = req
	w.mu.Unlock()
	q := strings.Fields(strings.ToLower(req.Query))
	resp := &provider.RerankResponse{}
	for i, d := range req.Documents {
		n := 0
		for _, x := range q {
			if strings.Contains(strings.ToLower(d), x) {
				n++
			}
		}
		resp.Results = append(resp.Results, provider.RerankResult{Index: i, Score: float64(n) / float64(len(q))})
	}
	// best first, ties in input order
	for i := 1; i < len(resp.Results); i++ {
		for j := i; j > 0 && resp.Results[j].Score > resp.Results[j-1].Score; j-- {
			resp.Results[j], resp.Results[j-1] = resp.Results[j-1], resp.Results[j]
		}
	}
	if req.TopN > 0 && len(resp.Results) > req.TopN {
		resp.Results = resp.Results[:req.TopN]
	}
	return resp, nil
}

// TestRerank drives the adapter's Rerank (aws-sdk-go-v2's
// bedrockagentruntime client, SigV4-signed) against a real Outcrop server
// standing in for Bedrock, whose own reranker scores by shared words.
func TestRerank(t *testing.T) {
	wr := &wordReranker{}
	srv := outcroptest.NewServer(t, outcroptest.Options{
		Extra:  []provider.Spec{{Kind: "words", New: func(json.RawMessage, provider.Env) (provider.Adapter, error) { return wr, nil }}},
		Mutate: func(c *config.Config) { c.Backends["words"] = config.Backend{Kind: "words"} },
		Models: append([]catalog.Model{{ID: "amazon.rerank-v1:0", Backend: "words", BackendModel: "words-v1", Input: []string{"TEXT"}, Output: []string{"TEXT"},
			Caps: catalog.Capabilities{Rerank: true}}}, outcroptest.EchoModels...),
	})
	a := newAdapter(t, srv, srv.Key.ID, srv.Key.Secret, "")
	docs := []string{"Bananas are yellow.", "Paris is the capital of France.", "The capital of Spain is Madrid."}
	for _, tc := range []struct {
		name     string
		req      provider.RerankRequest
		want     []provider.RerankResult
		wantKind fault.Kind
	}{
		{
			name: "top2",
			req:  provider.RerankRequest{Model: "amazon.rerank-v1:0", Query: "capital of France", Documents: docs, TopN: 2},
			want: []provider.RerankResult{{Index: 1, Score: 1}, {Index: 2, Score: 2.0 / 3}},
		},
		{
			name: "all_by_arn",
			req:  provider.RerankRequest{Model: "arn:aws:bedrock:us-east-1::foundation-model/amazon.rerank-v1:0", Query: "yellow", Documents: docs},
			want: []provider.RerankResult{{Index: 0, Score: 1}, {Index: 1, Score: 0}, {Index: 2, Score: 0}},
		},
		{
			name: "unknown_model",
			// The upstream's ResourceNotFoundException is the operator's
			// problem (the catalog names a model the upstream lacks), as
			// a 404 is for every backend.
			req:      provider.RerankRequest{Model: "cohere.rerank-v3-5:0", Query: "q", Documents: docs},
			wantKind: fault.ModelNotReady,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := a.Rerank(context.Background(), &tc.req)
			if tc.wantKind != fault.Internal {
				if fault.KindOf(err) != tc.wantKind {
					t.Fatalf("Rerank error = %v (kind %v), want kind %v", err, fault.KindOf(err), tc.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// relevanceScore is a float on the wire: compare at float32.
			approx := cmp.Comparer(func(x, y float64) bool { return float32(x) == float32(y) })
			if d := cmp.Diff(tc.want, resp.Results, approx); d != "" {
				t.Errorf("results (-want +got):\n%s", d)
			}
			wr.mu.Lock()
			last := wr.last
			wr.mu.Unlock()
			if last.Model != "words-v1" || last.Query != tc.req.Query || !cmp.Equal(last.Documents, docs) {
				t.Errorf("upstream reranker saw %+v", last)
			}
		})
	}
}

// TestRerankWire pins the exchange with Bedrock as its API reference shows
// it: POST /rerank, signed for the service "bedrock" (not
// "bedrock-agent-runtime", which Bedrock refuses), the model as a
// foundation-model ARN, TEXT sources, and results of index and
// relevanceScore.
func TestRerankWire(t *testing.T) {
	var body map[string]any
	var path, auth string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, auth = r.Method+" "+r.URL.Path, r.Header.Get("Authorization")
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("body %s: %v", b, err)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"results":[{"index":1,"relevanceScore":0.93359375},{"index":0,"relevanceScore":0.0015869140625}]}`)
	}))
	defer up.Close()
	raw := fmt.Sprintf(`{"region":"us-west-2","endpointURL":%q,"accessKeyId":"AKIDEXAMPLE","secretAccessKey":"wJalrXUtnFEMI","maxRetries":0}`, up.URL)
	a, err := bedrock.New(json.RawMessage(raw), provider.Env{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Rerank(context.Background(), &provider.RerankRequest{Model: "amazon.rerank-v1:0", Query: "capital of France",
		Documents: []string{"Bananas are yellow.", "Paris is the capital of France."}, TopN: 2, Extra: json.RawMessage(`{"max_tokens_per_doc":512}`)})
	if err != nil {
		t.Fatal(err)
	}
	if path != "POST /rerank" {
		t.Errorf("request %s, want POST /rerank", path)
	}
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/us-west-2/bedrock/aws4_request") {
		t.Errorf("Authorization = %q, want SigV4 for us-west-2/bedrock", auth)
	}
	text := func(s string) map[string]any {
		return map[string]any{"type": "INLINE", "inlineDocumentSource": map[string]any{"type": "TEXT", "textDocument": map[string]any{"text": s}}}
	}
	want := map[string]any{
		"queries": []any{map[string]any{"type": "TEXT", "textQuery": map[string]any{"text": "capital of France"}}},
		"sources": []any{text("Bananas are yellow."), text("Paris is the capital of France.")},
		"rerankingConfiguration": map[string]any{"type": "BEDROCK_RERANKING_MODEL", "bedrockRerankingConfiguration": map[string]any{
			"numberOfResults": float64(2),
			"modelConfiguration": map[string]any{"modelArn": "arn:aws:bedrock:us-west-2::foundation-model/amazon.rerank-v1:0",
				"additionalModelRequestFields": map[string]any{"max_tokens_per_doc": float64(512)}},
		}},
	}
	if d := cmp.Diff(want, body); d != "" {
		t.Errorf("request body (-want +got):\n%s", d)
	}
	approx := cmp.Comparer(func(x, y float64) bool { return float32(x) == float32(y) })
	if d := cmp.Diff([]provider.RerankResult{{Index: 1, Score: 0.93359375}, {Index: 0, Score: 0.0015869140625}}, resp.Results, approx); d != "" {
		t.Errorf("results (-want +got):\n%s", d)
	}
}
