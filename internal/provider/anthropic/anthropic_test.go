package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testKey = "sk-ant-test-5d1e"

func f64(v float64) *float64 { return &v }
func ip(v int) *int          { return &v }

func text(s string) provider.Block { return provider.Block{Type: provider.TextBlock, Text: s} }
func user(bs ...provider.Block) provider.Message {
	return provider.Message{Role: provider.User, Content: bs}
}
func assistant(bs ...provider.Block) provider.Message {
	return provider.Message{Role: provider.Assistant, Content: bs}
}

func newTest(t *testing.T, baseURL string) provider.Adapter {
	t.Helper()
	cfg, _ := json.Marshal(map[string]any{"baseURL": baseURL, "apiKey": testKey, "maxRetries": 0})
	a, err := New(cfg, provider.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var weather = provider.Tool{Name: "get_weather", Description: "Get the current weather in a given location",
	Schema: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"}},"required":["location"]}`)}

func ev(typ provider.EventType, idx int, s string) provider.Event {
	return provider.Event{Type: typ, Index: idx, Text: s}
}

func simple() *provider.Request {
	return &provider.Request{Model: "claude-sonnet-4-5", Messages: []provider.Message{user(text("Hi"))}}
}

func TestCassettes(t *testing.T) {
	providertest.Suite{New: newTest, Secret: testKey, Cases: []providertest.Case{
		{
			Name: "text",
			Req: &provider.Request{Model: "claude-sonnet-4-5", MaxTokens: 1024, System: []provider.Block{text("You are a concise assistant.")},
				Messages:    []provider.Message{user(text("Count to five, then say END."))},
				Temperature: f64(0.2), TopP: f64(0.9), TopK: ip(40), StopSequences: []string{"END"}},
			Want: &provider.Response{Message: assistant(text("1, 2, 3, 4, 5. ")), StopReason: provider.StopSequence, StopSequence: "END",
				Usage: provider.Usage{InputTokens: 21, OutputTokens: 15}},
		},
		{
			Name: "multiturn",
			Req: &provider.Request{Model: "claude-sonnet-4-5", Messages: []provider.Message{
				user(text("Hello there.")), assistant(text("Hi, I'm Claude. How can I help you?")), user(text("Can you explain LLMs in plain English?"))}},
			Want: &provider.Response{Message: assistant(text("Sure. A large language model is a program trained on lots of text to predict the next word.")),
				StopReason: provider.EndTurn, Usage: provider.Usage{InputTokens: 32, OutputTokens: 24}},
		},
		{
			Name: "stream_text", Stream: true,
			Req: &provider.Request{Model: "claude-sonnet-4-5", MaxTokens: 256, Messages: []provider.Message{user(text("Hello"))}},
			WantEvents: []provider.Event{
				{Type: provider.MessageStartEvent},
				ev(provider.TextDeltaEvent, 0, "Hello"),
				ev(provider.TextDeltaEvent, 0, "!"),
				{Type: provider.BlockStopEvent},
				{Type: provider.MessageStopEvent, StopReason: provider.EndTurn},
				{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: 25, OutputTokens: 15}},
			},
		},
		{
			Name: "stream_tools", Stream: true,
			Req: &provider.Request{Model: "claude-sonnet-4-5", MaxTokens: 1024, Tools: []provider.Tool{weather},
				ToolChoice: provider.ToolChoice{Mode: provider.ToolAny},
				Messages:   []provider.Message{user(text("What is the weather like in San Francisco?"))}},
			WantEvents: []provider.Event{
				{Type: provider.MessageStartEvent},
				ev(provider.TextDeltaEvent, 0, "Okay"),
				ev(provider.TextDeltaEvent, 0, ", let's check the weather for San Francisco, CA:"),
				{Type: provider.BlockStopEvent},
				{Type: provider.BlockStartEvent, Index: 1, ToolUse: &provider.ToolUse{ID: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", Name: "get_weather"}},
				ev(provider.ToolInputDeltaEvent, 1, `{"location":`),
				ev(provider.ToolInputDeltaEvent, 1, ` "San Francisc`),
				ev(provider.ToolInputDeltaEvent, 1, `o, CA"}`),
				{Type: provider.BlockStopEvent, Index: 1},
				{Type: provider.MessageStopEvent, StopReason: provider.ToolUseStop},
				{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: 472, OutputTokens: 89}},
			},
		},
		{
			Name: "stream_thinking", Stream: true,
			Req: &provider.Request{Model: "claude-sonnet-4-5", MaxTokens: 20000, Extra: json.RawMessage(`{"thinking": {"type": "enabled", "budget_tokens": 16000}}`),
				Messages: []provider.Message{user(text("What is 27 * 453?"))}},
			WantEvents: []provider.Event{
				{Type: provider.MessageStartEvent},
				ev(provider.ReasoningDeltaEvent, 0, "Let me solve this step by step:\n\n1. First break down 27 * 453"),
				ev(provider.ReasoningDeltaEvent, 0, "\n2. 453 = 400 + 50 + 3"),
				{Type: provider.BlockStopEvent},
				ev(provider.TextDeltaEvent, 1, "27 * 453 = 12,231"),
				{Type: provider.BlockStopEvent, Index: 1},
				{Type: provider.MessageStopEvent, StopReason: provider.EndTurn},
				{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: 46, OutputTokens: 120}},
			},
		},
		{
			Name: "tool_result",
			Req: &provider.Request{Model: "claude-sonnet-4-5", MaxTokens: 1024,
				Tools:      []provider.Tool{{Name: "get_weather", Description: "Get the current weather in a given location", Schema: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}`)}},
				ToolChoice: provider.ToolChoice{Mode: provider.ToolOne, Name: "get_weather"},
				Messages: []provider.Message{
					user(text("What's the weather like in San Francisco?")),
					assistant(text("I'll check."), provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: "toolu_01A09q90qw90lq917835lq9", Name: "get_weather", Input: json.RawMessage(`{"location":"San Francisco, CA"}`)}}),
					user(provider.Block{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{ToolUseID: "toolu_01A09q90qw90lq917835lq9", Status: "error",
						Content: []provider.Block{text("ConnectionError: the weather service API is not available (HTTP 500)")}}}),
				}},
			Want: &provider.Response{Message: assistant(text("I'm sorry, the weather service is unavailable right now."),
				provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: "toolu_01B2", Name: "get_weather", Input: json.RawMessage(`{"location": "San Francisco, CA"}`)}}),
				StopReason: provider.ToolUseStop, Usage: provider.Usage{InputTokens: 520, OutputTokens: 61}},
		},
		{
			Name: "image_document",
			Req: &provider.Request{Model: "claude-sonnet-4-5", MaxTokens: 1024, Messages: []provider.Message{user(
				provider.Block{Type: provider.ImageBlock, Image: &provider.Image{Format: "png", Data: []byte("\x89PNG\r\n\x1a\n")}},
				provider.Block{Type: provider.DocumentBlock, Document: &provider.Document{Format: "pdf", Name: "report", Data: []byte("%PDF-1.4\n")}},
				provider.Block{Type: provider.DocumentBlock, Document: &provider.Document{Format: "txt", Name: "notes", Data: []byte("The grass is green.")}},
				text("Describe the image and summarise the documents."),
			)}},
			Want: &provider.Response{Message: assistant(text("The image is a small PNG; the report is empty and the notes say the grass is green.")),
				StopReason: provider.EndTurn, Usage: provider.Usage{InputTokens: 1601, OutputTokens: 25}},
		},
		{Name: "error_400", Req: simple(), WantErr: providertest.Kind(fault.Invalid)},
		{Name: "error_401", Req: simple(), WantErr: providertest.Kind(fault.Unavailable)},
		{Name: "error_403", Req: simple(), WantErr: providertest.Kind(fault.Unavailable)},
		{Name: "error_404", Req: simple(), WantErr: providertest.Kind(fault.ModelNotReady)},
		{Name: "error_413", Req: simple(), WantErr: providertest.Kind(fault.Invalid)},
		{Name: "error_429", Req: simple(), Stream: true, WantErr: providertest.Kind(fault.Throttled)},
		{Name: "error_500", Req: simple(), WantErr: providertest.Kind(fault.ModelFailed)},
		{Name: "error_529", Req: simple(), Stream: true, WantErr: providertest.Kind(fault.Unavailable)},
		{Name: "stream_error", Req: simple(), Stream: true, WantErr: providertest.Kind(fault.Unavailable)},
	}}.Run(t)
}

// TestRetryAfter: a 429 with Retry-After is retried after exactly that
// wait, then succeeds; attempts are counted, nothing really sleeps.
func TestRetryAfter(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if n.Add(1) <= 2 {
			w.Header().Set("Retry-After", "12")
			w.WriteHeader(429)
			io.WriteString(w, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`)
			return
		}
		io.WriteString(w, `{"content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}`)
	}))
	defer srv.Close()
	cfg, _ := json.Marshal(map[string]any{"baseURL": srv.URL, "apiKey": testKey, "maxRetries": 3})
	a, err := New(cfg, provider.Env{})
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	a.http.Backoff.Sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	resp, err := a.Converse(context.Background(), simple())
	if err != nil {
		t.Fatal(err)
	}
	if provider.TextOf(resp.Message.Content) != "ok" || n.Load() != 3 {
		t.Errorf("resp %+v after %d attempts", resp, n.Load())
	}
	if d := cmp.Diff([]time.Duration{12 * time.Second, 12 * time.Second}, waits); d != "" {
		t.Errorf("waits (-want +got):\n%s", d)
	}
}

func TestCancelMidStream(t *testing.T) {
	gone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3}}}\n\n"+
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"+
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(gone)
	}))
	defer srv.Close()
	a := newTest(t, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := a.ConverseStream(ctx, simple(), func(e provider.Event) error {
		if e.Type == provider.TextDeltaEvent {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("upstream request not closed")
	}
}

func TestRequestMapping(t *testing.T) {
	a, err := New(json.RawMessage(`{"apiKey":"k","defaultMaxTokens":77,"version":"2024-01-01","headers":{"anthropic-beta":"x"}}`), provider.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if a.http.Header.Get("Anthropic-Version") != "2024-01-01" || a.http.Header.Get("X-Api-Key") != "k" || a.http.Header.Get("Anthropic-Beta") != "x" {
		t.Errorf("headers = %v", a.http.Header)
	}
	for _, tc := range []struct {
		name string
		req  *provider.Request
		want string // a fragment of the body, or "" with wantErr
		err  fault.Kind
	}{
		{"default max_tokens", simple(), `"max_tokens":77`, 0},
		{"tool_choice none", &provider.Request{Model: "m", Tools: []provider.Tool{{Name: "t"}}, ToolChoice: provider.ToolChoice{Mode: provider.ToolNone}, Messages: simple().Messages},
			`"tool_choice":{"type":"none"}`, 0},
		{"empty schema", &provider.Request{Model: "m", Tools: []provider.Tool{{Name: "t"}}, Messages: simple().Messages}, `"input_schema":{"type":"object"}`, 0},
		{"signed reasoning", &provider.Request{Model: "m", Messages: []provider.Message{user(text("q")), assistant(provider.Block{Type: provider.ReasoningBlock, Reasoning: &provider.Reasoning{Text: "hmm", Signature: "sig"}}, text("a")), user(text("q2"))}},
			`{"type":"thinking","thinking":"hmm","signature":"sig"}`, 0},
		{"raw prompt", &provider.Request{Model: "m", Raw: true, Prompt: "x"}, "", fault.Invalid},
		{"image by uri", &provider.Request{Model: "m", Messages: []provider.Message{user(provider.Block{Type: provider.ImageBlock, Image: &provider.Image{Format: "png", URI: "s3://b/k"}})}}, "", fault.Invalid},
		{"docx", &provider.Request{Model: "m", Messages: []provider.Message{user(provider.Block{Type: provider.DocumentBlock, Document: &provider.Document{Format: "docx", Data: []byte("x")}})}}, "", fault.Invalid},
		{"bad extra", &provider.Request{Model: "m", Messages: simple().Messages, Extra: json.RawMessage(`[1]`)}, "", fault.Invalid},
	} {
		b, err := a.buildRequest(tc.req, false)
		if tc.want == "" {
			if err == nil || fault.KindOf(err) != tc.err {
				t.Errorf("%s: err = %v, want %v", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("%s: body %s lacks %s", tc.name, b, tc.want)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []string{`{"unknown": 1}`, `{"defaultMaxTokens": -1}`, `{"baseURL": "not a url"}`, `{"maxRetries": 11}`} {
		if _, err := New(json.RawMessage(cfg), provider.Env{}); err == nil {
			t.Errorf("New(%s) accepted", cfg)
		}
	}
	a, err := New(nil, provider.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if a.http.BaseURL != DefaultBaseURL || a.maxTokens != DefaultMaxTokens || a.http.Header.Get("Anthropic-Version") != DefaultVersion {
		t.Errorf("defaults: %s %d %v", a.http.BaseURL, a.maxTokens, a.http.Header)
	}
}

func TestStopReasons(t *testing.T) {
	for in, want := range map[string]provider.StopReason{
		"end_turn": provider.EndTurn, "tool_use": provider.ToolUseStop, "max_tokens": provider.MaxTokens,
		"stop_sequence": provider.StopSequence, "refusal": provider.ContentFilter, "pause_turn": provider.EndTurn,
		"model_context_window_exceeded": provider.ContextWindow,
	} {
		if got := stopReason(in); got != want {
			t.Errorf("stopReason(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCountTokens(t *testing.T) {
	c, err := providertest.LoadCassette("testdata/cassettes/count_tokens.txt")
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := providertest.Replay(t, c)
	a := newTest(t, srv.URL).(*Adapter)
	n, err := a.CountTokens(context.Background(), &provider.Request{Model: "claude-sonnet-4-5", MaxTokens: 100, Temperature: f64(1),
		System: []provider.Block{text("You are a scientist")}, Messages: []provider.Message{user(text("Hello, Claude"))}, Tools: []provider.Tool{weather},
		Extra: json.RawMessage(`{"thinking": {"type": "enabled", "budget_tokens": 16000}}`)})
	if err != nil || n != 403 {
		t.Errorf("CountTokens = %d, %v; want 403", n, err)
	}
}
