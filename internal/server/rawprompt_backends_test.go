package server_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	brtypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/config"
	familyall "github.com/outcrop/outcrop/internal/family/all"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/openai"
)

// TestRawPromptsOnChatBackend: text-completion families (Titan Text,
// DeepSeek, Llama with its prompt format) served by an OpenAI-compatible
// backend, which takes conversations only, reach it as the chat turns
// their prompt was written as; an unformatted Llama prompt, which Bedrock's
// Llama continues as text, is refused with the backend's reason.
func TestRawPromptsOnChatBackend(t *testing.T) {
	type msg struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	var mu sync.Mutex
	var seen [][]msg
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Messages []msg `json:"messages"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		seen = append(seen, body.Messages)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-test",
"choices":[{"index":0,"message":{"role":"assistant","content":"Paris"},"finish_reason":"stop"}],
"usage":{"prompt_tokens":12,"completion_tokens":1,"total_tokens":13}}`)
	}))
	t.Cleanup(hs.Close)
	srv := outcroptest.NewServer(t, outcroptest.Options{
		Families: familyall.Families,
		Extra:    []provider.Spec{openai.Spec},
		Mutate: func(c *config.Config) {
			c.Backends["up"] = config.Backend{Kind: "openai", Config: map[string]any{"baseURL": hs.URL + "/v1", "apiKey": "sk-test", "maxRetries": 0}}
			for id, fam := range map[string]string{"amazon.titan-text-express-v1": "titan-text", "deepseek.r1-v1:0": "deepseek", "meta.llama3-8b-instruct-v1:0": "meta-llama"} {
				c.Models = append(c.Models, catalog.Model{ID: id, Name: id, Provider: "Test", Family: fam,
					Backend: "up", BackendModel: "gpt-test", Input: []string{"TEXT"}, Output: []string{"TEXT"},
					Caps: catalog.Capabilities{ContextWindow: 4096, MaxOutputTokens: 1000, System: true, Streaming: true}})
			}
		},
	})
	rc := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	for _, tc := range []struct {
		name, model, body, answer string
		upstream                  []msg
	}{
		{"Titan, a bare instruction", "amazon.titan-text-express-v1", `{"inputText":"What is the capital of France?"}`,
			`"outputText":"Paris"`, []msg{{"user", "What is the capital of France?"}}},
		{"DeepSeek, its documented format", "us.deepseek.r1-v1:0",
			`{"prompt":"<｜begin▁of▁sentence｜><｜User｜>What is the capital of France?<｜Assistant｜><think>\n","max_tokens":50}`,
			`"text":"Paris"`, []msg{{"user", "What is the capital of France?"}}},
		{"Llama 3, its format with a system turn", "meta.llama3-8b-instruct-v1:0",
			`{"prompt":"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is the capital of France?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"}`,
			`"generation":"Paris"`, []msg{{"system", "Be brief."}, {"user", "What is the capital of France?"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			out, err := rc.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{
				ModelId: aws.String(tc.model), ContentType: aws.String("application/json"), Body: []byte(tc.body)})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out.Body), tc.answer) {
				t.Errorf("InvokeModel = %s, want it to contain %s", out.Body, tc.answer)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 1 {
				t.Fatalf("upstream saw %d requests, want 1", len(seen))
			}
			if diff := cmp.Diff(tc.upstream, seen[0]); diff != "" {
				t.Errorf("upstream messages (-want +got):\n%s", diff)
			}
		})
	}
	_, err := rc.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{
		ModelId: aws.String("meta.llama3-8b-instruct-v1:0"), ContentType: aws.String("application/json"),
		Body: []byte(`{"prompt":"Once upon a time"}`)})
	var ve *brtypes.ValidationException
	if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "raw text-completion prompts") {
		t.Errorf("unformatted Llama prompt: err = %v, want a ValidationException naming raw text-completion prompts", err)
	}
}
