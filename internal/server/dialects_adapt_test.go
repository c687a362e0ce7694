package server_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/outcrop/outcrop/internal/config"
)

// TestDialectAdaptations drives Converse's adaptations through the OpenAI
// and Anthropic front doors on a model without system prompts or tools
// (the echo backend repeats the prompt, as a model following the tool
// prompt would): the tool call comes back as a tool call, the adaptations
// in x-outcrop-adaptations; strict mode, per request or per deployment,
// refuses with Bedrock's messages.
func TestDialectAdaptations(t *testing.T) {
	ctx := context.Background()
	srv := adaptServer(t)
	key, _, err := srv.Srv.IAM().CreateAPIKey(ctx, "root", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	oc := openAIClient(srv.URL, key)
	tool := openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get_weather",
		Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}})
	var hdr http.Header
	resp, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: plainModel, Tools: []openai.ChatCompletionToolUnionParam{tool},
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage(`{"tool": "get_weather", "input": {"city": "Paris"}}`)},
	}, option.WithResponseInto(new(*http.Response)), option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		res, err := next(r)
		if res != nil {
			hdr = res.Header
		}
		return res, err
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := hdr.Get("X-Outcrop-Adaptations"); got != "tools-prompted,system-folded" {
		t.Errorf("OpenAI adaptations header = %q, want tools-prompted,system-folded", got)
	}
	if ch := resp.Choices[0]; ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 ||
		ch.Message.ToolCalls[0].Function.Name != "get_weather" || ch.Message.ToolCalls[0].Function.Arguments != `{"city":"Paris"}` {
		t.Errorf("OpenAI answer %+v, want a get_weather call", ch)
	}

	_, err = oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: plainModel, Tools: []openai.ChatCompletionToolUnionParam{tool},
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}, option.WithHeader("x-outcrop-strict", "true"))
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.StatusCode != 400 || oe.Message != "This model doesn't support tool use." {
		t.Errorf("OpenAI strict: %v, want 400 This model doesn't support tool use.", err)
	}

	ac := anthropicClient(srv.URL, aoption.WithAPIKey(key))
	msg, err := ac.Messages.New(ctx, anthropic.MessageNewParams{Model: anthropic.Model(plainModel), MaxTokens: 64,
		System:   []anthropic.TextBlockParam{{Text: "be brief"}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello"))},
	}, aoption.WithMiddleware(func(r *http.Request, next aoption.MiddlewareNext) (*http.Response, error) {
		res, err := next(r)
		if res != nil {
			hdr = res.Header
		}
		return res, err
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := hdr.Get("X-Outcrop-Adaptations"); got != "system-folded" || len(msg.Content) == 0 {
		t.Errorf("Anthropic adaptations header = %q (answer %+v), want system-folded", got, msg.Content)
	}

	strict := adaptServer(t, func(c *config.Config) { c.Converse.Strict = true })
	skey, _, err := strict.Srv.IAM().CreateAPIKey(ctx, "root", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	sc := anthropicClient(strict.URL, aoption.WithAPIKey(skey))
	_, err = sc.Messages.New(ctx, anthropic.MessageNewParams{Model: anthropic.Model(plainModel), MaxTokens: 64,
		System:   []anthropic.TextBlockParam{{Text: "be brief"}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello"))}})
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 {
		t.Errorf("Anthropic on a strict deployment: %v, want 400 This model doesn't support system messages.", err)
	}
}
