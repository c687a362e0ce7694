package server_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/outcroptest"
)

// Object IDs derive from the random request ID; the golden files hold
// them normalized.
var (
	dialectIDs  = regexp.MustCompile(`(chatcmpl-|cmpl-|msg_|resp_|fc_|call_)[0-9a-f]{32}`)
	requestIDs  = regexp.MustCompile(`"request_id":"[0-9a-f-]{36}"`)
	idHeaderSet = map[string]bool{"Date": true, "X-Request-Id": true, "Request-Id": true}
)

// doDialect sends a request with headers and renders status, stable
// headers and the body.
func doDialect(t *testing.T, method, u, body string, hdr map[string]string) string {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
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
		if !idHeaderSet[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&sb, "%s: %s\n", k, strings.Join(resp.Header[k], ","))
	}
	sb.WriteString("\n")
	out := dialectIDs.ReplaceAllString(string(b), "${1}ID")
	out = requestIDs.ReplaceAllString(out, `"request_id":"ID"`)
	sb.WriteString(out)
	return sb.String()
}

// TestDialectWireGolden pins the exact wire shapes of the OpenAI and
// Anthropic dialects.
func TestDialectWireGolden(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{Now: fixedClock, Models: dialectModels()})
	token, _, err := srv.Srv.IAM().CreateAPIKey(t.Context(), "root", fixedClock().AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	bearer := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	xkey := map[string]string{"x-api-key": token, "anthropic-version": "2023-06-01", "Content-Type": "application/json"}
	m := echoModel
	cases := []struct {
		name, method, path, body string
		hdr                      map[string]string
	}{
		{"openai_chat", "POST", "/v1/chat/completions", `{"model":"` + m + `","messages":[{"role":"system","content":"s"},{"role":"user","content":"hello wire"}]}`, bearer},
		{"openai_chat_tools", "POST", "/v1/chat/completions", `{"model":"` + m + `","messages":[{"role":"user","content":"tool:lookup"}],"tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}]}`, bearer},
		{"openai_chat_stream", "POST", "/v1/chat/completions", `{"model":"` + m + `","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a b"}]}`, bearer},
		{"openai_chat_stream_tools", "POST", "/v1/chat/completions", `{"model":"` + m + `","stream":true,"messages":[{"role":"user","content":"tool:lookup"}],"tools":[{"type":"function","function":{"name":"lookup"}}]}`, bearer},
		{"openai_chat_stream_error_midway", "POST", "/v1/chat/completions", `{"model":"` + m + `","stream":true,"messages":[{"role":"user","content":"failmid:model"}]}`, bearer},
		{"openai_completions", "POST", "/v1/completions", `{"model":"` + m + `","prompt":"x y","max_tokens":5}`, bearer},
		{"openai_embeddings", "POST", "/v1/embeddings", `{"model":"` + echoEmbedModel + `","input":["a b"]}`, bearer},
		{"openai_embeddings_base64", "POST", "/v1/embeddings", `{"model":"` + echoEmbedModel + `","input":"a b","encoding_format":"base64"}`, bearer},
		{"openai_models", "GET", "/v1/models", "", bearer},
		{"openai_model", "GET", "/v1/models/" + m, "", bearer},
		{"openai_no_key", "POST", "/v1/chat/completions", `{"model":"` + m + `","messages":[{"role":"user","content":"x"}]}`, nil},
		{"openai_unknown_model", "POST", "/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}`, bearer},
		{"openai_bad_json", "POST", "/v1/chat/completions", `{"model":`, bearer},
		{"openai_bad_image", "POST", "/v1/chat/completions", `{"model":"` + m + `","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}`, bearer},
		{"openai_unknown_path", "POST", "/v1/audio/speech", `{}`, bearer},
		{"anthropic_messages", "POST", "/v1/messages", `{"model":"` + m + `","max_tokens":10,"system":"s","messages":[{"role":"user","content":[{"type":"text","text":"hello wire"}]}]}`, xkey},
		{"anthropic_messages_tools", "POST", "/v1/messages", `{"model":"` + m + `","max_tokens":10,"tools":[{"name":"lookup","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"tool:lookup"}]}`, xkey},
		{"anthropic_stream", "POST", "/v1/messages", `{"model":"` + m + `","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"a b"}]}`, xkey},
		{"anthropic_stream_tools", "POST", "/v1/messages", `{"model":"` + m + `","max_tokens":10,"stream":true,"tools":[{"name":"lookup","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"tool:lookup"}]}`, xkey},
		{"anthropic_stream_error_midway", "POST", "/v1/messages", `{"model":"` + m + `","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"failmid:model"}]}`, xkey},
		{"anthropic_count_tokens", "POST", "/v1/messages/count_tokens", `{"model":"` + m + `","messages":[{"role":"user","content":"one two"}]}`, xkey},
		{"anthropic_models", "GET", "/v1/models", "", xkey},
		{"anthropic_no_key", "POST", "/v1/messages", `{"model":"` + m + `","max_tokens":10,"messages":[{"role":"user","content":"x"}]}`, map[string]string{"anthropic-version": "2023-06-01"}},
		{"anthropic_missing_max_tokens", "POST", "/v1/messages", `{"model":"` + m + `","messages":[{"role":"user","content":"x"}]}`, xkey},
		{"anthropic_unknown_model", "POST", "/v1/messages", `{"model":"claude-x","max_tokens":10,"messages":[{"role":"user","content":"x"}]}`, xkey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := doDialect(t, c.method, srv.URL+c.path, c.body, c.hdr)
			golden := "testdata/dialects/" + c.name + ".golden"
			if *update {
				if err := os.MkdirAll("testdata/dialects", 0o755); err != nil {
					t.Fatal(err)
				}
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
