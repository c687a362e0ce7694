package openai

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

const testKey = "sk-test-7f3a9c"

func f64(v float64) *float64 { return &v }
func i64(v int64) *int64     { return &v }

func text(s string) provider.Block { return provider.Block{Type: provider.TextBlock, Text: s} }

func user(bs ...provider.Block) provider.Message {
	return provider.Message{Role: provider.User, Content: bs}
}

func assistant(bs ...provider.Block) provider.Message {
	return provider.Message{Role: provider.Assistant, Content: bs}
}

func answer(stop provider.StopReason, in, out int, bs ...provider.Block) *provider.Response {
	return &provider.Response{Message: assistant(bs...), StopReason: stop, Usage: provider.Usage{InputTokens: in, OutputTokens: out}}
}

var weatherSchema = json.RawMessage(`{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]}`)

func newTest(t *testing.T, baseURL string) provider.Adapter {
	t.Helper()
	cfg, _ := json.Marshal(map[string]any{"baseURL": baseURL + "/v1", "apiKey": testKey, "maxRetries": 0, "timeout": "5s"})
	c, err := New(cfg, provider.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCassettes(t *testing.T) {
	ev := func(typ provider.EventType, idx int, s string) provider.Event {
		return provider.Event{Type: typ, Index: idx, Text: s}
	}
	providertest.Suite{New: newTest, Secret: testKey, Cases: []providertest.Case{
		{
			Name: "text",
			Req: &provider.Request{Model: "gpt-4.1", System: []provider.Block{text("You are a helpful assistant.")},
				Messages:  []provider.Message{user(text("Hello!"))},
				MaxTokens: 64, Temperature: f64(0.5), TopP: f64(0.9), StopSequences: []string{"\n\n"}, Seed: i64(7)},
			Want: answer(provider.EndTurn, 19, 10, text("Hello! How can I assist you today?")),
		},
		{
			Name: "multiturn",
			Req: &provider.Request{Model: "gpt-4.1", MaxTokens: 8, Messages: []provider.Message{
				user(text("Who won the world series in 2020?")),
				assistant(text("The Los Angeles Dodgers won the World Series in 2020.")),
				user(text("Where was it played?")),
			}},
			Want: answer(provider.MaxTokens, 41, 8, text("The 2020 World Series was played in")),
		},
		{
			Name: "stream_text", Stream: true,
			Req: &provider.Request{Model: "gpt-4o-mini", System: []provider.Block{text("You are a helpful assistant.")},
				Messages: []provider.Message{user(text("Hello!"))}},
			WantEvents: []provider.Event{
				{Type: provider.MessageStartEvent},
				ev(provider.TextDeltaEvent, 0, "Hello"),
				ev(provider.TextDeltaEvent, 0, "!"),
				ev(provider.TextDeltaEvent, 0, " How can I help?"),
				{Type: provider.BlockStopEvent},
				{Type: provider.MessageStopEvent, StopReason: provider.EndTurn},
				{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: 19, OutputTokens: 6}},
			},
		},
		{
			Name: "tools",
			Req: &provider.Request{Model: "gpt-4.1", Messages: []provider.Message{user(text("What's the weather like in Boston today?"))},
				Tools:      []provider.Tool{{Name: "get_current_weather", Description: "Get the current weather in a given location", Schema: weatherSchema}},
				ToolChoice: provider.ToolChoice{Mode: provider.ToolAny}},
			Want: answer(provider.ToolUseStop, 82, 17, provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{
				ID: "call_abc123", Name: "get_current_weather", Input: json.RawMessage("{\n\"location\": \"Boston, MA\"\n}")}}),
		},
		{
			Name: "tool_result",
			Req: &provider.Request{Model: "gpt-4.1", Messages: []provider.Message{
				user(text("What's the weather like in Boston today?")),
				assistant(provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: "call_abc123", Name: "get_current_weather", Input: json.RawMessage(`{"location":"Boston, MA"}`)}}),
				user(provider.Block{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{ToolUseID: "call_abc123",
					Content: []provider.Block{{Type: provider.JSONBlock, JSON: json.RawMessage(`{"temperature":22,"unit":"celsius"}`)}}}}),
			},
				Tools:      []provider.Tool{{Name: "get_current_weather", Schema: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}`)}},
				ToolChoice: provider.ToolChoice{Mode: provider.ToolOne, Name: "get_current_weather"}},
			Want: answer(provider.EndTurn, 120, 11, text("It is 22 °C in Boston today.")),
		},
		{
			Name: "stream_tools", Stream: true,
			Req: &provider.Request{Model: "gpt-4.1", Messages: []provider.Message{user(text("What is the weather like in Paris today?"))},
				Tools: []provider.Tool{{Name: "get_weather", Description: "Get current temperature for a given location.",
					Schema: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}`)}}},
			WantEvents: []provider.Event{
				{Type: provider.MessageStartEvent},
				{Type: provider.BlockStartEvent, ToolUse: &provider.ToolUse{ID: "call_DdmO9pD3xa9XTPNJ32zg2hcA", Name: "get_weather"}},
				ev(provider.ToolInputDeltaEvent, 0, `{"`),
				ev(provider.ToolInputDeltaEvent, 0, `location`),
				ev(provider.ToolInputDeltaEvent, 0, `":"`),
				ev(provider.ToolInputDeltaEvent, 0, `Paris, France`),
				ev(provider.ToolInputDeltaEvent, 0, `"}`),
				{Type: provider.BlockStopEvent},
				{Type: provider.MessageStopEvent, StopReason: provider.ToolUseStop},
				{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: 66, OutputTokens: 15}},
			},
		},
		{
			Name: "image",
			Req: &provider.Request{Model: "gpt-4.1-mini", Messages: []provider.Message{user(text("What is in this image?"),
				provider.Block{Type: provider.ImageBlock, Image: &provider.Image{Format: "png", Data: []byte("\x89PNG\r\n\x1a\n")}})}},
			Want: answer(provider.EndTurn, 1117, 9, text("A wooden boardwalk through a green meadow.")),
		},
		{
			Name:      "embed",
			Embed:     &provider.EmbedRequest{Model: "text-embedding-3-small", Texts: []string{"The food was delicious and the waiter...", "Second text"}, Dimensions: 3},
			WantEmbed: &provider.EmbedResponse{Vectors: [][]float32{{0.0023064255, -0.009327292, -0.0028842222}, {0.5, 0.25, -0.25}}, InputTokens: 10},
		},
		{
			Name: "json_schema",
			Req: &provider.Request{Model: "gpt-4o-2024-08-06", System: []provider.Block{text("Extract the event information.")},
				Messages: []provider.Message{user(text("Alice and Bob are going to a science fair on Friday."))},
				Format: &provider.OutputFormat{Type: provider.JSONSchema, Name: "calendar_event", Strict: true, Schema: json.RawMessage(
					`{"type":"object","properties":{"name":{"type":"string"},"date":{"type":"string"},"participants":{"type":"array","items":{"type":"string"}}},"required":["name","date","participants"],"additionalProperties":false}`)}},
			Want: answer(provider.EndTurn, 81, 18, text(`{"name":"Science Fair","date":"Friday","participants":["Alice","Bob"]}`)),
		},
		{
			Name: "json_object",
			Req: &provider.Request{Model: "gpt-4.1", Messages: []provider.Message{user(text("List two colors as JSON."))},
				Format: &provider.OutputFormat{Type: provider.JSONObject}},
			Want: answer(provider.EndTurn, 15, 9, text(`{"colors": ["red", "blue"]}`)),
		},
		{
			Name: "logprobs",
			Req:  &provider.Request{Model: "gpt-4.1", Messages: []provider.Message{user(text("Hello!"))}, Logprobs: true, TopLogprobs: 2},
			Want: func() *provider.Response {
				r := answer(provider.EndTurn, 9, 2, text("Hello!"))
				r.Logprobs = []provider.TokenLogprob{
					{Token: "Hello", Logprob: -0.31725305, Top: []provider.TopLogprob{{Token: "Hello", Logprob: -0.31725305}, {Token: "Hi", Logprob: -1.3190403}}},
					{Token: "!", Logprob: -0.02380986, Top: []provider.TopLogprob{{Token: "!", Logprob: -0.02380986}, {Token: " there", Logprob: -3.787621}}},
				}
				return r
			}(),
		},
		{Name: "error_400", Req: simple(), WantErr: providertest.Kind(fault.Invalid)},
		{Name: "error_401", Req: simple(), WantErr: providertest.Kind(fault.Unavailable)},
		{Name: "error_403", Req: simple(), WantErr: providertest.Kind(fault.Unavailable)},
		{Name: "error_404", Req: simple(), WantErr: providertest.Kind(fault.ModelNotReady)},
		{Name: "error_429", Req: simple(), WantErr: providertest.Kind(fault.Throttled)},
		{Name: "error_500", Req: simple(), WantErr: providertest.Kind(fault.ModelFailed)},
		{Name: "error_503", Req: simple(), Stream: true, WantErr: providertest.Kind(fault.Unavailable)},
		{Name: "stream_error", Req: simple(), Stream: true, WantErr: providertest.Kind(fault.ModelFailed)},
	}}.Run(t)
}

func simple() *provider.Request {
	return &provider.Request{Model: "gpt-4.1", Messages: []provider.Message{user(text("Hi"))}}
}

func TestConfig(t *testing.T) {
	t.Setenv("OUTCROP_TEST_OPENAI_KEY", "sk-env")
	for _, tc := range []struct {
		cfg     string
		wantErr bool
	}{
		{`{}`, false},
		{`null`, false},
		{`{"baseURL": "http://localhost:8000/v1", "apiKeyEnv": "OUTCROP_TEST_OPENAI_KEY", "timeout": 30, "maxRetries": 0, "headers": {"OpenAI-Organization": "org-1"}}`, false},
		{`{"maxTokensField": "max_completion_tokens", "streamUsage": false, "topK": true}`, false},
		{`{"apiURL": "http://x"}`, true},            // unknown field
		{`{"baseURL": "ftp://x"}`, true},            // not http
		{`{"apiKey": "a", "apiKeyEnv": "B"}`, true}, // both
		{`{"apiKeyEnv": "OUTCROP_TEST_UNSET_VAR_X"}`, true},
		{`{"maxRetries": -1}`, true},
		{`{"timeout": "soon"}`, true},
		{`{"maxTokensField": "tokens"}`, true},
	} {
		_, err := New(json.RawMessage(tc.cfg), provider.Env{})
		if (err != nil) != tc.wantErr {
			t.Errorf("New(%s) error = %v, want error %v", tc.cfg, err, tc.wantErr)
		}
	}
	c, err := New(json.RawMessage(`{"apiKeyEnv": "OUTCROP_TEST_OPENAI_KEY", "timeout": "90s"}`), provider.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.HTTP.Header.Get("Authorization"); got != "Bearer sk-env" {
		t.Errorf("Authorization = %q", got)
	}
	if d := cmp.Diff([]any{DefaultBaseURL, 90 * time.Second, 2}, []any{c.HTTP.BaseURL, c.HTTP.Timeout, c.HTTP.MaxRetries}); d != "" {
		t.Errorf("defaults (-want +got):\n%s", d)
	}
}

func TestSpecBuildsAdapter(t *testing.T) {
	a, err := Spec.New(nil, provider.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.(provider.Embedder); !ok {
		t.Error("openai adapter is not an Embedder")
	}
	_ = context.Background()
}
