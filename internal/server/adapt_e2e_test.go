package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/config"
	familyall "github.com/outcrop/outcrop/internal/family/all"
	"github.com/outcrop/outcrop/internal/outcroptest"
)

// plainModel is served by the echo backend but described as a model with
// no system prompt and no tools, so Converse adapts requests to it.
const plainModel = "outcrop.plain-v1:0"

func adaptServer(t *testing.T, mutate ...func(*config.Config)) *outcroptest.Server {
	models := append([]catalog.Model(nil), outcroptest.EchoModels...)
	models = append(models, catalog.Model{ID: plainModel, Name: "Plain", Provider: "Outcrop", Family: "converse", Backend: "echo", BackendModel: "echo",
		Input: []string{"TEXT"}, Output: []string{"TEXT"},
		Caps: catalog.Capabilities{ContextWindow: 4096, MaxOutputTokens: 1000, Streaming: true, Prefill: true}})
	return outcroptest.NewServer(t, outcroptest.Options{Models: models, Mutate: func(c *config.Config) {
		for _, m := range mutate {
			m(c)
		}
	}})
}

var adaptWeatherTool = &rt.ToolConfiguration{Tools: []rt.Tool{&rt.ToolMemberToolSpec{Value: rt.ToolSpecification{
	Name: aws.String("get_weather"), Description: aws.String("Current weather in a city."),
	InputSchema: &rt.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{
		"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}})},
}}}}

// TestAdaptiveConverseToolRoundTrip calls a tool on a model without native
// tools (the echo backend repeats the user's JSON, as a model following
// the tool prompt would), answers it, and gets the final text.
func TestAdaptiveConverseToolRoundTrip(t *testing.T) {
	srv := adaptServer(t)
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	ctx := context.Background()
	msgs := userText(`{"tool": "get_weather", "input": {"city": "Paris"}}`)
	out, err := c.Converse(ctx, &bedrockruntime.ConverseInput{
		ModelId: aws.String(plainModel), Messages: msgs, ToolConfig: adaptWeatherTool,
	})
	if err != nil {
		t.Fatal(err)
	}
	raw := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
	if got, want := raw.Header.Get("X-Outcrop-Adaptations"), "tools-prompted,system-folded"; got != want {
		t.Errorf("adaptations header = %q, want %q", got, want)
	}
	var fields map[string]any
	if err := out.AdditionalModelResponseFields.UnmarshalSmithyDocument(&fields); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"outcrop": map[string]any{"adaptations": []any{"tools-prompted", "system-folded"}}}, fields); diff != "" {
		t.Errorf("additionalModelResponseFields (-want +got):\n%s", diff)
	}
	if out.StopReason != rt.StopReasonToolUse {
		t.Fatalf("stopReason = %s, want tool_use", out.StopReason)
	}
	msg := out.Output.(*rt.ConverseOutputMemberMessage).Value
	// The model has no system prompt either, so the tool prompt is folded
	// into the user turn, which the echo backend repeats before the call.
	tu, ok := msg.Content[len(msg.Content)-1].(*rt.ContentBlockMemberToolUse)
	if !ok || aws.ToString(tu.Value.Name) != "get_weather" || !strings.HasPrefix(aws.ToString(tu.Value.ToolUseId), "tooluse_") {
		t.Fatalf("content = %#v, want a get_weather tool use", msg.Content)
	}
	var input map[string]any
	if err := tu.Value.Input.UnmarshalSmithyDocument(&input); err != nil || input["city"] != "Paris" {
		t.Fatalf("input = %v (%v)", input, err)
	}

	// Answer the tool; the echo backend repeats the result, now as text.
	msgs = append(msgs, msg, rt.Message{Role: rt.ConversationRoleUser, Content: []rt.ContentBlock{&rt.ContentBlockMemberToolResult{Value: rt.ToolResultBlock{
		ToolUseId: tu.Value.ToolUseId, Content: []rt.ToolResultContentBlock{&rt.ToolResultContentBlockMemberText{Value: "21 degrees"}},
	}}}})
	out, err = c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(plainModel), Messages: msgs, ToolConfig: adaptWeatherTool})
	if err != nil {
		t.Fatal(err)
	}
	if out.StopReason != rt.StopReasonEndTurn {
		t.Errorf("stopReason = %s, want end_turn", out.StopReason)
	}
	text := out.Output.(*rt.ConverseOutputMemberMessage).Value.Content[0].(*rt.ContentBlockMemberText).Value
	if want := "Result of the call to tool get_weather: 21 degrees"; text != want {
		t.Errorf("answer = %q, want %q", text, want)
	}

	// The stream carries the same tool call.
	stream, err := c.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(plainModel), Messages: userText(`{"tool": "get_weather", "input": {"city": "Oslo"}}`), ToolConfig: adaptWeatherTool})
	if err != nil {
		t.Fatal(err)
	}
	if got := awsmiddleware.GetRawResponse(stream.ResultMetadata).(*smithyhttp.Response).Header.Get("X-Outcrop-Adaptations"); got != "tools-prompted,system-folded" {
		t.Errorf("stream adaptations header = %q", got)
	}
	var name, in string
	var stop rt.StopReason
	var stopFields map[string]any
	for ev := range stream.GetStream().Events() {
		switch e := ev.(type) {
		case *rt.ConverseStreamOutputMemberContentBlockStart:
			name = aws.ToString(e.Value.Start.(*rt.ContentBlockStartMemberToolUse).Value.Name)
		case *rt.ConverseStreamOutputMemberContentBlockDelta:
			if d, ok := e.Value.Delta.(*rt.ContentBlockDeltaMemberToolUse); ok {
				in += aws.ToString(d.Value.Input)
			}
		case *rt.ConverseStreamOutputMemberMessageStop:
			stop = e.Value.StopReason
			if e.Value.AdditionalModelResponseFields != nil {
				_ = e.Value.AdditionalModelResponseFields.UnmarshalSmithyDocument(&stopFields)
			}
		}
	}
	if err := stream.GetStream().Err(); err != nil {
		t.Fatal(err)
	}
	if name != "get_weather" || in != `{"city":"Oslo"}` || stop != rt.StopReasonToolUse || stopFields == nil {
		t.Errorf("stream: tool %q input %q stop %s fields %v", name, in, stop, stopFields)
	}
}

// TestAdaptiveConverseSystem folds the system prompt into the first user
// turn of a model without system prompts (the echo backend repeats it).
func TestAdaptiveConverseSystem(t *testing.T) {
	srv := adaptServer(t)
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	out, err := c.Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId: aws.String(plainModel), Messages: userText("hello"),
		System: []rt.SystemContentBlock{&rt.SystemContentBlockMemberText{Value: "Be brief."}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response).Header.Get("X-Outcrop-Adaptations"); got != "system-folded" {
		t.Errorf("adaptations header = %q, want system-folded", got)
	}
	text := out.Output.(*rt.ConverseOutputMemberMessage).Value.Content[0].(*rt.ContentBlockMemberText).Value
	if text != "Be brief. hello" {
		t.Errorf("answer = %q, want the folded system prompt and the question", text)
	}
}

// TestAdaptiveConverseStrict asks for Bedrock's errors, per request, by
// additionalModelRequestFields and by header.
func TestAdaptiveConverseStrict(t *testing.T) {
	srv := adaptServer(t)
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	ctx := context.Background()
	_, err := c.Converse(ctx, &bedrockruntime.ConverseInput{
		ModelId: aws.String(plainModel), Messages: userText("hi"),
		System:                       []rt.SystemContentBlock{&rt.SystemContentBlockMemberText{Value: "Be brief."}},
		AdditionalModelRequestFields: document.NewLazyDocument(map[string]any{"outcrop": map[string]any{"strict": true}}),
	})
	wantValidation(t, err, "This model doesn't support system messages.")

	_, err = c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(plainModel), Messages: userText("hi"), ToolConfig: adaptWeatherTool},
		bedrockruntime.WithAPIOptions(smithyhttp.AddHeaderValue("X-Outcrop-Strict", "true")))
	wantValidation(t, err, "This model doesn't support tool use.")

	// The context window is checked before the backend is called.
	_, err = c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(plainModel), Messages: userText(strings.Repeat("word ", 4000)),
		InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(1000)}})
	wantValidation(t, err, "Input is too long for requested model. The prompt is 4000 tokens (counted with the model's tokenizer) and maxTokens is 1000: 5000 tokens, more than the model's context window of 4096.")
}

// TestAdaptiveConverseStrictDeployment refuses for every request when the
// deployment is configured strict.
func TestAdaptiveConverseStrictDeployment(t *testing.T) {
	srv := adaptServer(t, func(c *config.Config) { c.Converse.Strict = true })
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	_, err := c.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(plainModel), Messages: userText("hi"), ToolConfig: adaptWeatherTool})
	wantValidation(t, err, "This model doesn't support tool use.")
}

func wantValidation(t *testing.T, err error, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" || ae.ErrorMessage() != msg {
		t.Errorf("error = %v, want ValidationException %q", err, msg)
	}
}

// TestLocalAdaptiveTools offers a tool to the built-in SmolLM2, which has
// no native tool use: Converse prompts for a JSON call and, since the call
// is required and the engine constrains its output, decodes the answer
// under the call's JSON schema; it reads the call back as a toolUse block
// and says so. Greedy and sampled, the answer is a well-formed call.
func TestLocalAdaptiveTools(t *testing.T) {
	srv := newLocalServer(t)
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	for _, temp := range []float32{0, 0.9} {
		out, err := c.Converse(context.Background(), &bedrockruntime.ConverseInput{
			ModelId: aws.String(smolModel), Messages: userText("What is the weather in Paris?"),
			ToolConfig:      &rt.ToolConfiguration{Tools: adaptWeatherTool.Tools, ToolChoice: &rt.ToolChoiceMemberAny{}},
			InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(48), Temperature: aws.Float32(temp)},
		})
		if err != nil {
			t.Fatal(err)
		}
		raw := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
		if got := raw.Header.Get("X-Outcrop-Adaptations"); got != "tools-prompted,tool-call-constrained" {
			t.Errorf("adaptations header = %q, want tools-prompted,tool-call-constrained", got)
		}
		msg := out.Output.(*rt.ConverseOutputMemberMessage).Value
		if out.StopReason != rt.StopReasonToolUse {
			t.Fatalf("temperature %v: stopReason = %s, content %#v; want SmolLM2 to call get_weather", temp, out.StopReason, msg.Content)
		}
		tu := msg.Content[len(msg.Content)-1].(*rt.ContentBlockMemberToolUse)
		var input map[string]any
		if err := tu.Value.Input.UnmarshalSmithyDocument(&input); err != nil {
			t.Fatal(err)
		}
		if _, ok := input["city"].(string); aws.ToString(tu.Value.Name) != "get_weather" || !ok {
			t.Errorf("temperature %v: tool use %s %v, want get_weather with a city", temp, aws.ToString(tu.Value.Name), input)
		}
		t.Logf("temperature %v: SmolLM2 called get_weather with %v", temp, input)
	}
}

// TestAdaptiveInvokeModel sends a Claude Messages body with a system prompt
// and a tool to a model (on the echo backend) that has neither: InvokeModel
// adapts as Converse does, the reply comes back as the family's tool_use
// block, and x-outcrop-adaptations names what was done; strict refuses.
func TestAdaptiveInvokeModel(t *testing.T) {
	const claudePlain = "outcrop.plain-claude-v1:0"
	srv := outcroptest.NewServer(t, outcroptest.Options{Families: familyall.Families, Models: []catalog.Model{{ID: claudePlain,
		Name: "Plain Claude", Provider: "Outcrop", Family: "anthropic-messages", Backend: "echo", BackendModel: "echo",
		Input: []string{"TEXT"}, Output: []string{"TEXT"},
		Caps: catalog.Capabilities{ContextWindow: 4096, MaxOutputTokens: 1000, Streaming: true, Prefill: true}}}})
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	body := `{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200, "system": "be brief",
		"tools": [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
		"messages": [{"role": "user", "content": "{\"tool\": \"get_weather\", \"input\": {\"city\": \"Paris\"}}"}]}`
	out, err := c.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(claudePlain), Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	raw := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
	if got := raw.Header.Get("X-Outcrop-Adaptations"); got != "tools-prompted,system-folded" {
		t.Errorf("adaptations header = %q, want tools-prompted,system-folded", got)
	}
	var resp struct {
		StopReason string `json:"stop_reason"`
		Content    []struct {
			Type  string         `json:"type"`
			Name  string         `json:"name"`
			Input map[string]any `json:"input"`
		} `json:"content"`
	}
	if err := json.Unmarshal(out.Body, &resp); err != nil {
		t.Fatal(err)
	}
	last := resp.Content[len(resp.Content)-1]
	if resp.StopReason != "tool_use" || last.Type != "tool_use" || last.Name != "get_weather" || last.Input["city"] != "Paris" {
		t.Errorf("response %s, want a get_weather tool_use", out.Body)
	}
	_, err = c.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(claudePlain), Body: []byte(body)},
		func(o *bedrockruntime.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("x-outcrop-strict", "true"))
		})
	if code, status := apiError(t, err); code != "ValidationException" || status != 400 || !strings.Contains(err.Error(), "doesn't support tool use") {
		t.Errorf("strict: %s %d %v", code, status, err)
	}
}
