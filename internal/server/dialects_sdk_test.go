package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/google/go-cmp/cmp"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"

	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/engine/grammar"
	"github.com/outcrop/outcrop/internal/outcroptest"
)

// The OpenAI and Anthropic dialects, driven by the vendors' official Go
// SDKs against a real server whose models are served by the echo backend.

const echoEmbedModel = "outcrop.echo-embed-v1:0"

func dialectModels() []catalog.Model {
	return append(append([]catalog.Model{}, outcroptest.EchoModels...), catalog.Model{
		ID: echoEmbedModel, Name: "Echo Embed", Provider: "Outcrop", Family: "converse", Backend: "echo", BackendModel: "echo",
		Input: []string{"TEXT"}, Output: []string{"EMBEDDING"}, Caps: catalog.Capabilities{Dimensions: 4},
	})
}

// newDialectServer starts an echo server and returns it with a Bedrock API
// key of the root user.
func newDialectServer(t *testing.T) (*outcroptest.Server, string) {
	t.Helper()
	srv := outcroptest.NewServer(t, outcroptest.Options{Models: dialectModels()})
	token, _, err := srv.Srv.IAM().CreateAPIKey(context.Background(), "root", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return srv, token
}

func openAIClient(url, key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

func anthropicClient(url string, opts ...aoption.RequestOption) anthropic.Client {
	return anthropic.NewClient(append([]aoption.RequestOption{aoption.WithBaseURL(url), aoption.WithMaxRetries(0)}, opts...)...)
}

var weatherTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name: "get_weather", Description: openai.String("Weather in a city"),
	Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"q": map[string]any{"type": "string"}}},
})

func TestOpenAIChat(t *testing.T) {
	srv, key := newDialectServer(t)
	c := openAIClient(srv.URL, key)
	ctx := context.Background()

	resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    echoModel,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("hello there world")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content; got != "hello there world" {
		t.Errorf("content = %q, want %q", got, "hello there world")
	}
	if resp.Choices[0].FinishReason != "stop" || resp.Usage.CompletionTokens != 3 || resp.Usage.TotalTokens != resp.Usage.PromptTokens+3 {
		t.Errorf("finish %q usage %+v", resp.Choices[0].FinishReason, resp.Usage)
	}
	if resp.Model != echoModel || !strings.HasPrefix(resp.ID, "chatcmpl-") || resp.Object != "chat.completion" {
		t.Errorf("model %q id %q object %q", resp.Model, resp.ID, resp.Object)
	}

	// max_completion_tokens and stop are honoured.
	resp, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: echoModel, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("one two three four")},
		MaxCompletionTokens: openai.Int(2),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "one two" || resp.Choices[0].FinishReason != "length" {
		t.Errorf("max tokens: %q %q", resp.Choices[0].Message.Content, resp.Choices[0].FinishReason)
	}
	resp, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: echoModel, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("one two STOP four")},
		Stop: openai.ChatCompletionNewParamsStopUnion{OfString: openai.String("STOP")}, Temperature: openai.Float(0.2), TopP: openai.Float(0.9), Seed: openai.Int(7),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "one two" || resp.Choices[0].FinishReason != "stop" {
		t.Errorf("stop: %q %q", resp.Choices[0].Message.Content, resp.Choices[0].FinishReason)
	}
}

func TestOpenAIStream(t *testing.T) {
	srv, key := newDialectServer(t)
	c := openAIClient(srv.URL, key)
	stream := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: echoModel, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("streamed words here")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	var deltas []string
	for stream.Next() {
		ch := stream.Current()
		acc.AddChunk(ch)
		if len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			deltas = append(deltas, ch.Choices[0].Delta.Content)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"streamed", " words", " here"}, deltas); diff != "" {
		t.Errorf("deltas (-want +got):\n%s", diff)
	}
	if got := acc.Choices[0].Message.Content; got != "streamed words here" {
		t.Errorf("accumulated %q", got)
	}
	if acc.Choices[0].FinishReason != "stop" || acc.Usage.CompletionTokens != 3 {
		t.Errorf("finish %q usage %+v", acc.Choices[0].FinishReason, acc.Usage)
	}

	// An error after the stream began arrives in-band and ends the stream.
	stream = c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: echoModel, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("failmid:model")},
	})
	for stream.Next() {
	}
	if err := stream.Err(); err == nil || !strings.Contains(err.Error(), "echo failure") {
		t.Errorf("mid-stream error = %v, want the backend's failure", err)
	}
}

func TestOpenAITools(t *testing.T) {
	srv, key := newDialectServer(t)
	c := openAIClient(srv.URL, key)
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:      echoModel,
		Messages:   []openai.ChatCompletionMessageParamUnion{openai.UserMessage("tool:get_weather")},
		Tools:      []openai.ChatCompletionToolUnionParam{weatherTool},
		ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")},
	}
	resp, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	msg := resp.Choices[0].Message
	if resp.Choices[0].FinishReason != "tool_calls" || len(msg.ToolCalls) != 1 {
		t.Fatalf("finish %q tool calls %+v", resp.Choices[0].FinishReason, msg.ToolCalls)
	}
	call := msg.ToolCalls[0]
	if call.Function.Name != "get_weather" || call.Function.Arguments != `{"q":"echo"}` || call.ID == "" {
		t.Errorf("tool call %+v", call)
	}

	// The tool result goes back as a tool message.
	params.Messages = append(params.Messages, msg.ToParam(), openai.ToolMessage("sunny", call.ID))
	params.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{}
	resp, err = c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content; got != "tool result sunny" {
		t.Errorf("after tool result: %q", got)
	}

	// Streamed tool calls accumulate into the same call.
	params.Messages = params.Messages[:1]
	stream := c.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	var finished []openai.FinishedChatCompletionToolCall
	for stream.Next() {
		acc.AddChunk(stream.Current())
		if tc, ok := acc.JustFinishedToolCall(); ok {
			finished = append(finished, tc)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(finished) != 1 || finished[0].Name != "get_weather" || finished[0].Arguments != `{"q":"echo"}` {
		t.Errorf("streamed tool calls %+v", finished)
	}
	if acc.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("streamed finish %q", acc.Choices[0].FinishReason)
	}
}

func TestOpenAIEmbeddingsModelsCompletions(t *testing.T) {
	srv, key := newDialectServer(t)
	c := openAIClient(srv.URL, key)
	ctx := context.Background()

	emb, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: echoEmbedModel, Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a b", "c"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(emb.Data) != 2 || len(emb.Data[0].Embedding) != 4 || emb.Data[1].Index != 1 || emb.Usage.PromptTokens != 3 {
		t.Errorf("embeddings %+v", emb)
	}
	// The raw base64 form decodes to the same vector.
	var raw struct {
		Data []struct {
			Embedding string `json:"embedding"`
		} `json:"data"`
	}
	err = c.Post(ctx, "embeddings", map[string]any{"model": echoEmbedModel, "input": "a b", "encoding_format": "base64"}, &raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw.Data) != 1 || raw.Data[0].Embedding == "" {
		t.Errorf("base64 embeddings %+v", raw)
	}
	if _, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: echoModel, Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("x")}}); statusOf(err) != 400 {
		t.Errorf("embeddings on a chat model: %v, want 400", err)
	}
	if _, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: echoEmbedModel, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}}); statusOf(err) != 400 {
		t.Errorf("chat on an embedding model: %v, want 400", err)
	}

	page, err := c.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if diff := cmp.Diff([]string{echoEmbedModel, echoModel}, ids); diff != "" {
		t.Errorf("models (-want +got):\n%s", diff)
	}
	m, err := c.Models.Get(ctx, echoModel)
	if err != nil || m.ID != echoModel || m.OwnedBy != "Outcrop" {
		t.Errorf("model get: %+v %v", m, err)
	}

	comp, err := c.Completions.New(ctx, openai.CompletionNewParams{
		Model: openai.CompletionNewParamsModel(echoModel), Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("x y z")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if comp.Choices[0].Text != "x y z" || comp.Choices[0].FinishReason != "stop" {
		t.Errorf("completion %+v", comp.Choices[0])
	}
}

func statusOf(err error) int {
	var oe *openai.Error
	if errors.As(err, &oe) {
		return oe.StatusCode
	}
	var ae *anthropic.Error
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

func TestOpenAIErrors(t *testing.T) {
	srv, key := newDialectServer(t)
	c := openAIClient(srv.URL, key)
	ctx := context.Background()
	chat := func(model, text string, mod func(*openai.ChatCompletionNewParams)) error {
		p := openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)}}
		if mod != nil {
			mod(&p)
		}
		_, err := c.Chat.Completions.New(ctx, p)
		return err
	}
	tests := []struct {
		name             string
		err              error
		status           int
		typ, code, param string
	}{
		{"unknown model", chat("amazon.nope-v1", "x", nil), 404, "invalid_request_error", "model_not_found", ""},
		{"n too large", chat(echoModel, "x", func(p *openai.ChatCompletionNewParams) { p.N = openai.Int(9) }), 400, "invalid_request_error", "", "n"},
		{"json mode", chat(echoModel, "x", func(p *openai.ChatCompletionNewParams) {
			p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}}
		}), 400, "invalid_request_error", "", "response_format"},
		{"throttled", chat(echoModel, "fail:throttled", nil), 429, "rate_limit_error", "rate_limit_exceeded", ""},
		{"model failure", chat(echoModel, "fail:model", nil), 502, "server_error", "", ""},
	}
	bad := openAIClient(srv.URL, "bedrock-api-key-bogus")
	_, err := bad.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: echoModel, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
	tests = append(tests, struct {
		name             string
		err              error
		status           int
		typ, code, param string
	}{"bad key", err, 401, "invalid_request_error", "invalid_api_key", ""})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var oe *openai.Error
			if !errors.As(tt.err, &oe) {
				t.Fatalf("err = %v, want *openai.Error", tt.err)
			}
			got := []any{oe.StatusCode, oe.Type, oe.Code, oe.Param}
			want := []any{tt.status, tt.typ, tt.code, tt.param}
			if diff := cmp.Diff(want, got); diff != "" || oe.Message == "" {
				t.Errorf("error %q (-want +got):\n%s", oe.Message, diff)
			}
		})
	}
}

func TestAnthropicMessages(t *testing.T) {
	srv, key := newDialectServer(t)
	ctx := context.Background()
	for _, auth := range []struct {
		name string
		opt  aoption.RequestOption
	}{{"x-api-key", aoption.WithAPIKey(key)}, {"bearer", aoption.WithAuthToken(key)}} {
		t.Run(auth.name, func(t *testing.T) {
			c := anthropicClient(srv.URL, auth.opt)
			msg, err := c.Messages.New(ctx, anthropic.MessageNewParams{
				Model: anthropic.Model(echoModel), MaxTokens: 100,
				System:   []anthropic.TextBlockParam{{Text: "be brief"}},
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi from anthropic"))},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(msg.Content) != 1 || msg.Content[0].Text != "hi from anthropic" || msg.StopReason != "end_turn" || msg.Usage.OutputTokens != 3 {
				t.Errorf("message %+v", msg)
			}
		})
	}

	c := anthropicClient(srv.URL, aoption.WithAPIKey(key))
	msg, err := c.Messages.New(ctx, anthropic.MessageNewParams{
		Model: anthropic.Model(echoModel), MaxTokens: 100, StopSequences: []string{"END"},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("a b END c"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	if msg.Content[0].Text != "a b" || msg.StopReason != "stop_sequence" || msg.StopSequence != "END" {
		t.Errorf("stop sequence: %+v", msg)
	}

	n, err := c.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{
		Model:    anthropic.Model(echoModel),
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("one two three"))},
	})
	if err != nil || n.InputTokens != 3 {
		t.Errorf("count tokens = %+v, %v; want 3", n, err)
	}

	page, err := c.Models.List(ctx, anthropic.ModelListParams{})
	if err != nil || len(page.Data) != 2 || page.Data[1].ID != echoModel || page.Data[1].DisplayName != "Echo" {
		t.Errorf("models: %+v %v", page, err)
	}
}

func TestAnthropicStream(t *testing.T) {
	srv, key := newDialectServer(t)
	c := anthropicClient(srv.URL, aoption.WithAPIKey(key))
	stream := c.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{
		Model: anthropic.Model(echoModel), MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("streaming is fun"))},
	})
	var acc anthropic.Message
	var types []string
	for stream.Next() {
		ev := stream.Current()
		if err := acc.Accumulate(ev); err != nil {
			t.Fatal(err)
		}
		if len(types) == 0 || types[len(types)-1] != ev.Type {
			types = append(types, ev.Type)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	// The SDK drops ping events; the wire golden files pin them.
	want := []string{"message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("event order (-want +got):\n%s", diff)
	}
	if len(acc.Content) != 1 || acc.Content[0].Text != "streaming is fun" || acc.StopReason != "end_turn" || acc.Usage.OutputTokens != 3 || acc.Usage.InputTokens != 3 {
		t.Errorf("accumulated %+v", acc)
	}

	// A failure after the stream began arrives as an error event.
	stream = c.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{
		Model: anthropic.Model(echoModel), MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("failmid:model"))},
	})
	for stream.Next() {
	}
	if err := stream.Err(); err == nil {
		t.Error("mid-stream failure: no error")
	}
}

func TestAnthropicTools(t *testing.T) {
	srv, key := newDialectServer(t)
	c := anthropicClient(srv.URL, aoption.WithAPIKey(key))
	ctx := context.Background()
	tools := []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
		Name: "get_weather", InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"q": map[string]any{"type": "string"}}},
	}}}
	params := anthropic.MessageNewParams{
		Model: anthropic.Model(echoModel), MaxTokens: 100, Tools: tools,
		ToolChoice: anthropic.ToolChoiceUnionParam{OfAny: &anthropic.ToolChoiceAnyParam{}},
		Messages:   []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("tool:get_weather"))},
	}
	msg, err := c.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if msg.StopReason != "tool_use" || len(msg.Content) != 1 || msg.Content[0].Type != "tool_use" || msg.Content[0].Name != "get_weather" || string(msg.Content[0].Input) != `{"q":"echo"}` {
		t.Fatalf("tool use %+v", msg)
	}
	params.Messages = append(params.Messages, msg.ToParam(),
		anthropic.NewUserMessage(anthropic.NewToolResultBlock(msg.Content[0].ID, "rainy", false)))
	params.ToolChoice = anthropic.ToolChoiceUnionParam{}
	msg, err = c.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Content[0].Text != "tool result rainy" {
		t.Errorf("after tool result: %+v", msg.Content)
	}

	// Streamed tool use accumulates the input JSON.
	params.Messages = params.Messages[:1]
	stream := c.Messages.NewStreaming(ctx, params)
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Content) != 1 || acc.Content[0].Name != "get_weather" || string(acc.Content[0].Input) != `{"q":"echo"}` || acc.StopReason != "tool_use" {
		t.Errorf("streamed tool use %+v", acc.Content)
	}
}

func TestAnthropicErrors(t *testing.T) {
	srv, key := newDialectServer(t)
	ctx := context.Background()
	send := func(c anthropic.Client, model, text string) error {
		_, err := c.Messages.New(ctx, anthropic.MessageNewParams{
			Model: anthropic.Model(model), MaxTokens: 10,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(text))},
		})
		return err
	}
	good := anthropicClient(srv.URL, aoption.WithAPIKey(key))
	tests := []struct {
		name   string
		err    error
		status int
		typ    string
	}{
		{"bad key", send(anthropicClient(srv.URL, aoption.WithAPIKey("nope")), echoModel, "x"), 401, "authentication_error"},
		{"unknown model", send(good, "anthropic.nope-v1", "x"), 404, "not_found_error"},
		{"throttled", send(good, echoModel, "fail:throttled"), 429, "rate_limit_error"},
		{"unavailable", send(good, echoModel, "fail:unavailable"), 529, "overloaded_error"},
		{"embedding model", send(good, echoEmbedModel, "x"), 400, "invalid_request_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ae *anthropic.Error
			if !errors.As(tt.err, &ae) {
				t.Fatalf("err = %v, want *anthropic.Error", tt.err)
			}
			if ae.StatusCode != tt.status || !strings.Contains(ae.RawJSON(), `"type":"`+tt.typ+`"`) {
				t.Errorf("status %d body %s, want %d %s", ae.StatusCode, ae.RawJSON(), tt.status, tt.typ)
			}
		})
	}
}

// TestDialectsLocalEngine drives the built-in engine on the real default
// weights through both SDKs; it skips when the weights are absent.
func TestDialectsLocalEngine(t *testing.T) {
	srv := newLocalServer(t)
	token, _, err := srv.Srv.IAM().CreateAPIKey(context.Background(), "root", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	oc := openAIClient(srv.URL, token)
	resp, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: smolModel, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the capital of France?")},
		MaxTokens: openai.Int(8), Temperature: openai.Float(0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content == "" || resp.Usage.CompletionTokens == 0 || resp.Usage.CompletionTokens > 8 {
		t.Errorf("chat: %q usage %+v", resp.Choices[0].Message.Content, resp.Usage)
	}
	stream := oc.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: smolModel, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello.")},
		MaxTokens: openai.Int(6), StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content == "" || acc.Usage.CompletionTokens == 0 {
		t.Errorf("stream: %q usage %+v", acc.Choices[0].Message.Content, acc.Usage)
	}
	emb, err := oc.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "outcrop.all-minilm-l6-v2", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a cat", "a dog"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(emb.Data) != 2 || len(emb.Data[0].Embedding) != 384 {
		t.Errorf("embeddings: %d vectors of %d", len(emb.Data), len(emb.Data[0].Embedding))
	}

	ac := anthropicClient(srv.URL, aoption.WithAPIKey(token))
	msg, err := ac.Messages.New(ctx, anthropic.MessageNewParams{
		Model: anthropic.Model(smolModel), MaxTokens: 8,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Name a color."))},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) == 0 || msg.Content[0].Text == "" || msg.Usage.InputTokens == 0 {
		t.Errorf("messages: %+v", msg)
	}
}

// TestOpenAIChoices asks for n choices, plain and streamed: n generations
// with indexes 0…n-1, the prompt counted once in the usage.
func TestOpenAIChoices(t *testing.T) {
	srv, key := newDialectServer(t)
	c := openAIClient(srv.URL, key)
	ctx := context.Background()
	resp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: echoModel, N: openai.Int(3), Seed: openai.Int(5),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("three times")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices) != 3 || resp.Usage.CompletionTokens != 3*2 || resp.Usage.PromptTokens != 2 {
		t.Fatalf("n=3: %d choices, usage %+v", len(resp.Choices), resp.Usage)
	}
	for i, ch := range resp.Choices {
		if ch.Index != int64(i) || ch.Message.Content != "three times" || ch.FinishReason != "stop" {
			t.Errorf("choice %d: %+v", i, ch)
		}
	}
	stream := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: echoModel, N: openai.Int(2),
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("twice over")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Choices) != 2 || acc.Choices[0].Message.Content != "twice over" || acc.Choices[1].Message.Content != "twice over" ||
		acc.Usage.CompletionTokens != 4 || acc.Usage.PromptTokens != 2 {
		t.Errorf("streamed n=2: %+v usage %+v", acc.Choices, acc.Usage)
	}
}

func TestOpenAIResponses(t *testing.T) {
	srv, key := newDialectServer(t)
	c := openAIClient(srv.URL, key)
	ctx := context.Background()
	resp, err := c.Responses.New(ctx, responses.ResponseNewParams{
		Model: echoModel, Instructions: openai.String("be brief"),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("respond to this")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.OutputText(); got != "respond to this" || resp.Status != "completed" || resp.Usage.OutputTokens != 3 {
		t.Errorf("response %q status %q usage %+v", got, resp.Status, resp.Usage)
	}

	stream := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model: echoModel, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("tool:lookup")},
		Tools: []responses.ToolUnionParam{responses.ToolParamOfFunction("lookup", map[string]any{"type": "object"}, false)},
	})
	var done *responses.Response
	for stream.Next() {
		if ev := stream.Current(); ev.Type == "response.completed" {
			r := ev.Response
			done = &r
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if done == nil || len(done.Output) != 1 || done.Output[0].Type != "function_call" || done.Output[0].Name != "lookup" || done.Output[0].Arguments.OfString != `{"q":"echo"}` {
		t.Errorf("streamed response %+v", done)
	}
}

// TestDialectsJSONOutput drives response formats through openai-go: on the
// built-in engine (real weights) json_object and json_schema give a JSON
// object, streamed or not, through Chat Completions and Responses; a model
// whose backend cannot constrain its output refuses them with a 400.
func TestDialectsJSONOutput(t *testing.T) {
	ctx := context.Background()
	t.Run("unsupported backend", func(t *testing.T) {
		srv, key := newDialectServer(t)
		c := openAIClient(srv.URL, key)
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: echoModel, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}},
		})
		var ae *openai.Error
		if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.Message, "cannot constrain its output to JSON") {
			t.Fatalf("json_object on the echo backend: %v", err)
		}
	})

	srv := newLocalServer(t)
	token, _, err := srv.Srv.IAM().CreateAPIKey(ctx, "root", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	oc := openAIClient(srv.URL, token)
	isObject := func(t *testing.T, what, s string) {
		t.Helper()
		var v map[string]any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Errorf("%s: %q is not a JSON object: %v", what, s, err)
		}
	}
	schema := map[string]any{"type": "object", "properties": map[string]any{
		"city": map[string]any{"type": "string"}, "country": map[string]any{"type": "string"}},
		"required": []string{"city", "country"}, "additionalProperties": false}
	question := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Which city is the capital of France? Answer in JSON.")}

	resp, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: smolModel, Messages: question, MaxTokens: openai.Int(80), Temperature: openai.Float(0),
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Free JSON from a 135M model may list keys until max_tokens; cut
	// there, it is still JSON as far as it goes.
	if got := resp.Choices[0].Message.Content; resp.Choices[0].FinishReason == "stop" {
		isObject(t, "json_object", got)
	} else if j := grammar.NewJSON(true); resp.Choices[0].FinishReason != "length" || !stepAll(&j, got) {
		t.Errorf("json_object: %q (finish %q) is not a JSON object cut at max_tokens", got, resp.Choices[0].FinishReason)
	}

	stream := oc.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: smolModel, Messages: question, MaxTokens: openai.Int(80), Temperature: openai.Float(0.7), Seed: openai.Int(3),
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "capital", Schema: schema, Strict: openai.Bool(true)}}},
	})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	followsSchema := func(what, s string) {
		t.Helper()
		var v map[string]any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Errorf("%s: %q is not a JSON object: %v", what, s, err)
			return
		}
		_, city := v["city"].(string)
		_, country := v["country"].(string)
		if !city || !country || len(v) != 2 {
			t.Errorf("%s: %q does not follow the schema (city and country, strings, required, no others)", what, s)
		}
	}
	followsSchema("streamed json_schema", acc.Choices[0].Message.Content)

	r, err := oc.Responses.New(ctx, responses.ResponseNewParams{
		Model: smolModel, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Which city is the capital of France?")},
		MaxOutputTokens: openai.Int(80), Temperature: openai.Float(0),
		Text: responses.ResponseTextConfigParam{Format: responses.ResponseFormatTextConfigParamOfJSONSchema("capital", schema)},
	})
	if err != nil {
		t.Fatal(err)
	}
	followsSchema("Responses json_schema", r.OutputText())
	t.Logf("json_object %s; streamed json_schema %s; Responses %s", resp.Choices[0].Message.Content, acc.Choices[0].Message.Content, r.OutputText())
}

func stepAll(j *grammar.JSON, s string) bool {
	for i := 0; i < len(s); i++ {
		if !j.Step(s[i]) {
			return false
		}
	}
	return true
}

// TestDialectsLogprobs asks the built-in engine (real weights) for log
// probabilities through openai-go: one entry per output token whose bytes
// spell the content, the greedy choice first among the alternatives;
// streamed, the entries come with the deltas they belong to. The same
// through the legacy completions and the Responses API. A backend that
// cannot report them refuses the request.
func TestDialectsLogprobs(t *testing.T) {
	ctx := context.Background()
	srv := newLocalServer(t)
	token, _, err := srv.Srv.IAM().CreateAPIKey(ctx, "root", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	oc := openAIClient(srv.URL, token)
	params := openai.ChatCompletionNewParams{
		Model: smolModel, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Name a primary color.")},
		MaxTokens: openai.Int(12), Temperature: openai.Float(0), Logprobs: openai.Bool(true), TopLogprobs: openai.Int(3),
	}
	check := func(what, content string, entries []openai.ChatCompletionTokenLogprob, completion int64) {
		t.Helper()
		var spelled []byte
		for i, e := range entries {
			for _, b := range e.Bytes {
				spelled = append(spelled, byte(b))
			}
			if e.Logprob > 0 || len(e.TopLogprobs) != 3 || e.TopLogprobs[0].Logprob < e.Logprob-1e-4 {
				t.Errorf("%s: entry %d %+v: want logprob ≤ 0 and 3 alternatives, the greedy choice the most likely", what, i, e)
			}
		}
		if string(spelled) != content || int64(len(entries)) > completion || len(entries) == 0 {
			t.Errorf("%s: %d entries spell %q; content %q, %d completion tokens", what, len(entries), spelled, content, completion)
		}
	}
	resp, err := oc.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	check("chat", resp.Choices[0].Message.Content, resp.Choices[0].Logprobs.Content, resp.Usage.CompletionTokens)

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := oc.Chat.Completions.NewStreaming(ctx, params)
	var content string
	var entries []openai.ChatCompletionTokenLogprob
	var completion int64
	for stream.Next() {
		ch := stream.Current()
		if len(ch.Choices) > 0 {
			content += ch.Choices[0].Delta.Content
			entries = append(entries, ch.Choices[0].Logprobs.Content...)
		}
		if ch.Usage.CompletionTokens > 0 {
			completion = ch.Usage.CompletionTokens
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	check("stream", content, entries, completion)

	// Legacy completions: tokens spell the text, each position's top
	// alternatives include the sampled token, offsets count characters.
	checkLegacy := func(what, text string, lp openai.CompletionChoiceLogprobs) {
		t.Helper()
		var spelled string
		for i, tok := range lp.Tokens {
			if i >= len(lp.TokenLogprobs) || i >= len(lp.TopLogprobs) || i >= len(lp.TextOffset) {
				t.Fatalf("%s: ragged logprobs %+v", what, lp)
			}
			if lp.TextOffset[i] != int64(len([]rune(spelled))) {
				t.Errorf("%s: token %d %q at offset %d, want %d", what, i, tok, lp.TextOffset[i], len([]rune(spelled)))
			}
			top := lp.TopLogprobs[i]
			if got, ok := top[tok]; !ok || got != lp.TokenLogprobs[i] || len(top) < 2 || len(top) > 3 || lp.TokenLogprobs[i] > 0 {
				t.Errorf("%s: token %d %q logprob %v, alternatives %v: want 2 alternatives plus the sampled token", what, i, tok, lp.TokenLogprobs[i], top)
			}
			spelled += tok
		}
		if spelled != text || len(lp.Tokens) == 0 {
			t.Errorf("%s: tokens spell %q, text %q", what, spelled, text)
		}
	}
	cparams := openai.CompletionNewParams{Model: openai.CompletionNewParamsModel(smolModel),
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("The three primary colors are")},
		MaxTokens: openai.Int(8), Temperature: openai.Float(0), Logprobs: openai.Int(2)}
	comp, err := oc.Completions.New(ctx, cparams)
	if err != nil {
		t.Fatal(err)
	}
	checkLegacy("completion", comp.Choices[0].Text, comp.Choices[0].Logprobs)
	cstream := oc.Completions.NewStreaming(ctx, cparams)
	var ctext string
	var clp openai.CompletionChoiceLogprobs
	for cstream.Next() {
		ch := cstream.Current()
		if len(ch.Choices) == 0 {
			continue
		}
		ctext += ch.Choices[0].Text
		l := ch.Choices[0].Logprobs
		clp.Tokens, clp.TokenLogprobs = append(clp.Tokens, l.Tokens...), append(clp.TokenLogprobs, l.TokenLogprobs...)
		clp.TopLogprobs, clp.TextOffset = append(clp.TopLogprobs, l.TopLogprobs...), append(clp.TextOffset, l.TextOffset...)
	}
	if err := cstream.Err(); err != nil {
		t.Fatal(err)
	}
	checkLegacy("completion stream", ctext, clp)
	if ctext != comp.Choices[0].Text {
		t.Errorf("streamed completion %q, want the same greedy text %q", ctext, comp.Choices[0].Text)
	}
	if _, err := oc.Completions.New(ctx, openai.CompletionNewParams{Model: openai.CompletionNewParamsModel(smolModel),
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("x")}, Logprobs: openai.Int(6)}); statusOf(err) != 400 {
		t.Errorf("logprobs 6 on completions: %v, want 400", err)
	}

	// Responses: include message.output_text.logprobs with top_logprobs.
	rparams := responses.ResponseNewParams{Model: smolModel, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Name a primary color.")},
		MaxOutputTokens: openai.Int(12), Temperature: openai.Float(0), TopLogprobs: openai.Int(3),
		Include: []responses.ResponseIncludable{responses.ResponseIncludableMessageOutputTextLogprobs}}
	rresp, err := oc.Responses.New(ctx, rparams)
	if err != nil {
		t.Fatal(err)
	}
	var rentries []openai.ChatCompletionTokenLogprob
	for _, l := range rresp.Output[0].Content[0].Logprobs {
		e := openai.ChatCompletionTokenLogprob{Token: l.Token, Logprob: l.Logprob, Bytes: l.Bytes}
		for _, a := range l.TopLogprobs {
			e.TopLogprobs = append(e.TopLogprobs, openai.ChatCompletionTokenLogprobTopLogprob{Token: a.Token, Logprob: a.Logprob})
		}
		rentries = append(rentries, e)
	}
	check("responses", rresp.OutputText(), rentries, rresp.Usage.OutputTokens)
	rstream := oc.Responses.NewStreaming(ctx, rparams)
	var rtext string
	var streamed int
	for rstream.Next() {
		ev := rstream.Current()
		if ev.Type == "response.output_text.delta" {
			d := ev.AsResponseOutputTextDelta()
			rtext += d.Delta
			streamed += len(d.Logprobs)
			for _, l := range d.Logprobs {
				if l.Logprob > 0 || len(l.TopLogprobs) != 3 {
					t.Errorf("responses stream: delta logprob %+v, want ≤ 0 with 3 alternatives", l)
				}
			}
		}
	}
	if err := rstream.Err(); err != nil {
		t.Fatal(err)
	}
	if rtext != rresp.OutputText() || streamed != len(rentries) {
		t.Errorf("responses stream: %q with %d logprobs, want %q with %d", rtext, streamed, rresp.OutputText(), len(rentries))
	}

	dsrv, key := newDialectServer(t)
	dc := openAIClient(dsrv.URL, key)
	_, err = dc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: echoModel, Logprobs: openai.Bool(true),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != "logprobs" {
		t.Errorf("logprobs on the echo backend: %v", err)
	}
}
