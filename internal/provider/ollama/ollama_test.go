package ollama

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testKey = "ollama-proxy-key-42"

func f64(v float64) *float64 { return &v }
func ip(v int) *int          { return &v }
func i64(v int64) *int64     { return &v }

func text(s string) provider.Block { return provider.Block{Type: provider.TextBlock, Text: s} }
func user(bs ...provider.Block) provider.Message {
	return provider.Message{Role: provider.User, Content: bs}
}
func assistant(bs ...provider.Block) provider.Message {
	return provider.Message{Role: provider.Assistant, Content: bs}
}

func newTest(t *testing.T, baseURL string) provider.Adapter {
	t.Helper()
	cfg, _ := json.Marshal(map[string]any{"baseURL": baseURL, "apiKey": testKey, "maxRetries": 0, "keepAlive": "10m", "numCtx": 4096})
	a, err := New(cfg, provider.Env{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	a.newID = func() string { n++; return "tooluse_test" + string(rune('0'+n)) }
	return a
}

func ev(typ provider.EventType, idx int, s string) provider.Event {
	return provider.Event{Type: typ, Index: idx, Text: s}
}

func simple() *provider.Request {
	return &provider.Request{Model: "llama3.2", Messages: []provider.Message{user(text("Hi"))}}
}

var weatherSchema = json.RawMessage(`{"type":"object","properties":{"location":{"type":"string","description":"The location to get the weather for, e.g. San Francisco, CA"},"format":{"type":"string","description":"The format to return the weather in, e.g. 'celsius' or 'fahrenheit'","enum":["celsius","fahrenheit"]}},"required":["location","format"]}`)

func TestCassettes(t *testing.T) {
	providertest.Suite{New: newTest, Secret: testKey, Cases: []providertest.Case{
		{
			Name: "text",
			Req: &provider.Request{Model: "llama3.2", System: []provider.Block{text("You are a helpful assistant.")},
				Messages:    []provider.Message{user(text("why is the sky blue?"))},
				Temperature: f64(0), TopP: f64(0.9), TopK: ip(20), MaxTokens: 100, StopSequences: []string{"\n", "user:"}, Seed: i64(101)},
			Want: &provider.Response{Message: assistant(text("Hello! How are you today?")), StopReason: provider.EndTurn,
				Usage: provider.Usage{InputTokens: 26, OutputTokens: 298}},
		},
		{
			Name: "json_schema",
			Req: &provider.Request{Model: "llama3.1", Messages: []provider.Message{user(text("Ollama is 22 years old and busy saving the world. Return a JSON object with the age and availability."))},
				Format: &provider.OutputFormat{Type: provider.JSONSchema, Name: "person", Schema: json.RawMessage(
					`{"type":"object","properties":{"age":{"type":"integer"},"available":{"type":"boolean"}},"required":["age","available"]}`)}},
			Want: &provider.Response{Message: assistant(text(`{"age": 22, "available": false}`)), StopReason: provider.EndTurn,
				Usage: provider.Usage{InputTokens: 34, OutputTokens: 12}},
		},
		{
			Name: "json_mode",
			Req: &provider.Request{Model: "llama3.2", Messages: []provider.Message{user(text("What color is the sky at different times of the day? Respond using JSON"))},
				Format: &provider.OutputFormat{Type: provider.JSONObject}},
			Want: &provider.Response{Message: assistant(text(`{"morning": "blue", "noon": "blue", "evening": "orange"}`)), StopReason: provider.EndTurn,
				Usage: provider.Usage{InputTokens: 36, OutputTokens: 180}},
		},
		{
			Name: "stream_multiturn", Stream: true,
			Req: &provider.Request{Model: "llama3.2", Messages: []provider.Message{
				user(text("why is the sky blue?")), assistant(text("due to rayleigh scattering.")), user(text("how is that different than mie scattering?"))}},
			WantEvents: []provider.Event{
				{Type: provider.MessageStartEvent},
				ev(provider.TextDeltaEvent, 0, "The"),
				ev(provider.TextDeltaEvent, 0, " particles"),
				ev(provider.TextDeltaEvent, 0, " differ in size."),
				{Type: provider.BlockStopEvent},
				{Type: provider.MessageStopEvent, StopReason: provider.EndTurn},
				{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: 61, OutputTokens: 468}},
			},
		},
		{
			Name: "stream_length", Stream: true,
			Req: &provider.Request{Model: "llama3.2", MaxTokens: 3, Messages: []provider.Message{user(text("Tell me a story."))}},
			WantEvents: []provider.Event{
				{Type: provider.MessageStartEvent},
				ev(provider.TextDeltaEvent, 0, "Once"),
				ev(provider.TextDeltaEvent, 0, " upon"),
				ev(provider.TextDeltaEvent, 0, " a"),
				{Type: provider.BlockStopEvent},
				{Type: provider.MessageStopEvent, StopReason: provider.MaxTokens},
				{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: 14, OutputTokens: 3}},
			},
		},
		{
			Name: "tools",
			Req: &provider.Request{Model: "llama3.2", Messages: []provider.Message{user(text("What is the weather today in Paris?"))},
				Tools: []provider.Tool{{Name: "get_current_weather", Description: "Get the current weather for a location", Schema: weatherSchema}}},
			Want: &provider.Response{Message: assistant(provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: "tooluse_test1", Name: "get_current_weather",
				Input: json.RawMessage(`{
            "format": "celsius",
            "location": "Paris, FR"
          }`)}}), StopReason: provider.ToolUseStop, Usage: provider.Usage{InputTokens: 122, OutputTokens: 33}},
		},
		{
			Name: "stream_tools", Stream: true,
			Req: &provider.Request{Model: "qwen3", Messages: []provider.Message{user(text("What is the weather today in Toronto?"))},
				Tools: []provider.Tool{{Name: "get_current_weather", Description: "Get the current weather for a location",
					Schema: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"},"format":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location","format"]}`)}}},
			WantEvents: []provider.Event{
				{Type: provider.MessageStartEvent},
				ev(provider.ReasoningDeltaEvent, 0, "The user wants the weather in Toronto."),
				{Type: provider.BlockStopEvent},
				{Type: provider.BlockStartEvent, Index: 1, ToolUse: &provider.ToolUse{ID: "tooluse_test1", Name: "get_current_weather"}},
				ev(provider.ToolInputDeltaEvent, 1, `{"format":"celsius","location":"Toronto"}`),
				{Type: provider.BlockStopEvent, Index: 1},
				{Type: provider.MessageStopEvent, StopReason: provider.ToolUseStop},
				{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: 180, OutputTokens: 40}},
			},
		},
		{
			Name: "tool_result",
			Req: &provider.Request{Model: "llama3.2", Messages: []provider.Message{
				user(text("What is the weather today in Paris?")),
				assistant(provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: "tooluse_1", Name: "get_current_weather", Input: json.RawMessage(`{"format":"celsius","location":"Paris, FR"}`)}}),
				user(provider.Block{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{ToolUseID: "tooluse_1", Content: []provider.Block{text("22")}}}),
			},
				Tools:      []provider.Tool{{Name: "get_current_weather", Schema: json.RawMessage(`{"type":"object"}`)}, {Name: "other", Schema: json.RawMessage(`{}`)}},
				ToolChoice: provider.ToolChoice{Mode: provider.ToolOne, Name: "get_current_weather"}},
			Want: &provider.Response{Message: assistant(text("It is 22 degrees Celsius in Paris.")), StopReason: provider.EndTurn,
				Usage: provider.Usage{InputTokens: 150, OutputTokens: 10}},
		},
		{
			Name: "image",
			Req: &provider.Request{Model: "llava", Messages: []provider.Message{user(text("what is in this image?"),
				provider.Block{Type: provider.ImageBlock, Image: &provider.Image{Format: "png", Data: []byte("\x89PNG\r\n\x1a\n")}})}},
			Want: &provider.Response{Message: assistant(text(" The image features a cute, little pig with an angry facial expression.")), StopReason: provider.EndTurn,
				Usage: provider.Usage{InputTokens: 26, OutputTokens: 83}},
		},
		{
			Name:      "embed",
			Embed:     &provider.EmbedRequest{Model: "all-minilm", Texts: []string{"Why is the sky blue?", "Why is the grass green?"}},
			WantEmbed: &provider.EmbedResponse{Vectors: [][]float32{{0.010071029, -0.0017594862, 0.05007221}, {-0.0098162, 0.028165, 0.03765}}, InputTokens: 8},
		},
		{Name: "error_400", Req: simple(), WantErr: providertest.Kind(fault.Invalid)},
		{Name: "error_401", Req: simple(), WantErr: providertest.Kind(fault.Unavailable)},
		{Name: "error_404", Req: simple(), Stream: true, WantErr: providertest.Kind(fault.ModelNotReady)},
		{Name: "error_500", Req: simple(), WantErr: providertest.Kind(fault.ModelFailed)},
		{Name: "error_503", Req: simple(), Stream: true, WantErr: providertest.Kind(fault.Unavailable)},
		{Name: "stream_error", Req: simple(), Stream: true, WantErr: providertest.Kind(fault.ModelFailed)},
	}}.Run(t)
}

func TestRetryThenSucceed(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if n.Add(1) == 1 {
			w.WriteHeader(503)
			io.WriteString(w, `{"error":"server busy, please try again.  maximum pending requests exceeded"}`)
			return
		}
		io.WriteString(w, `{"message":{"role":"assistant","content":"ok"},"done":true,"done_reason":"stop"}`)
	}))
	defer srv.Close()
	a, err := New(json.RawMessage(`{"baseURL":"`+srv.URL+`"}`), provider.Env{})
	if err != nil {
		t.Fatal(err)
	}
	var waits int
	a.http.Backoff.Sleep = func(context.Context, time.Duration) error { waits++; return nil }
	resp, err := a.Converse(context.Background(), simple())
	if err != nil {
		t.Fatal(err)
	}
	if provider.TextOf(resp.Message.Content) != "ok" || n.Load() != 2 || waits != 1 {
		t.Errorf("resp %+v after %d attempts and %d waits", resp, n.Load(), waits)
	}
}

func TestCancelMidStream(t *testing.T) {
	gone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"message":{"role":"assistant","content":"The"},"done":false}`+"\n")
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

func TestRequestErrors(t *testing.T) {
	a := newTest(t, "http://127.0.0.1:1")
	for name, req := range map[string]*provider.Request{
		"raw":       {Model: "m", Raw: true, Prompt: "x"},
		"document":  {Model: "m", Messages: []provider.Message{user(provider.Block{Type: provider.DocumentBlock, Document: &provider.Document{Format: "pdf", Data: []byte("x")}})}},
		"image uri": {Model: "m", Messages: []provider.Message{user(provider.Block{Type: provider.ImageBlock, Image: &provider.Image{Format: "png", URI: "s3://b/k"}})}},
	} {
		if err := a.ConverseStream(context.Background(), req, func(provider.Event) error { return nil }); fault.KindOf(err) != fault.Invalid {
			t.Errorf("%s: err = %v, want Invalid", name, err)
		}
	}
	if _, err := a.(*Adapter).Embed(context.Background(), &provider.EmbedRequest{Model: "m"}); fault.KindOf(err) != fault.Invalid {
		t.Errorf("empty embed: %v", err)
	}
	if _, err := New(json.RawMessage(`{"numCtx": -1}`), provider.Env{}); err == nil {
		t.Error("negative numCtx accepted")
	}
	if _, err := New(json.RawMessage(`{"model": "x"}`), provider.Env{}); err == nil {
		t.Error("unknown field accepted")
	}
}

// FuzzNDJSON feeds arbitrary bytes to the stream parser: it must never
// panic, and whatever it emits before succeeding is in Converse order.
func FuzzNDJSON(f *testing.F) {
	for _, s := range []string{
		`{"message":{"role":"assistant","content":"a"},"done":false}` + "\n" + `{"done":true,"done_reason":"stop","eval_count":1}` + "\n",
		`{"message":{"tool_calls":[{"function":{"name":"f","arguments":{"x":1}}}]},"done":false}` + "\r\n" + `{"done":true}`,
		`{"message":{"thinking":"t","content":"c"},"done":true,"done_reason":"length"}`,
		`{"error":"boom"}`,
		"\n\n{}\n",
		`{"message":{"tool_calls":[{"function":{"name":"f","arguments":null}}]},"done":true}`,
	} {
		f.Add([]byte(s))
	}
	a, err := New(nil, provider.Env{})
	if err != nil {
		f.Fatal(err)
	}
	a.newID = func() string { return "id" }
	f.Fuzz(func(t *testing.T, data []byte) {
		var evs []provider.Event
		err := a.readStream(bytes.NewReader(data), func(e provider.Event) error { evs = append(evs, e); return nil })
		if err == nil {
			if cerr := providertest.CheckEvents(evs); cerr != nil {
				t.Fatalf("events out of order: %v\n%+v", cerr, evs)
			}
		}
	})
}
