package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// helloWorld is the instruction of AWS's published InvokeModel examples.
const helloWorld = "Describe the purpose of a 'hello world' program in one line."

// TestLocalRawPrompts runs the raw-prompt bodies of AWS's published
// examples against the real SmolLM2 with the AWS SDK: a bare instruction
// to Titan Text and DeepSeek's documented prompt format are answered as
// chat turns (prompt-as-chat), where fed verbatim the chat model stopped
// at once and answered nothing.
func TestLocalRawPrompts(t *testing.T) {
	srv := newLocalServer(t)
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	ctx := context.Background()
	invoke := func(t *testing.T, model, body string, opts ...func(*bedrockruntime.Options)) (*bedrockruntime.InvokeModelOutput, string) {
		t.Helper()
		out, err := c.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: []byte(body)}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s", model, out.Body)
		return out, awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response).Header.Get("X-Outcrop-Adaptations")
	}

	t.Run("TitanBareInstruction", func(t *testing.T) {
		body := `{"inputText":"` + helloWorld + `","textGenerationConfig":{"maxTokenCount":60,"temperature":0}}`
		out, adapted := invoke(t, "amazon.titan-text-express-v1", body)
		var r struct {
			Results []struct {
				OutputText       string `json:"outputText"`
				CompletionReason string `json:"completionReason"`
			} `json:"results"`
		}
		if err := json.Unmarshal(out.Body, &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Results) != 1 || len(strings.Fields(r.Results[0].OutputText)) < 3 {
			t.Errorf("body = %s, want an answer of a few words", out.Body)
		}
		if adapted != "prompt-as-chat" {
			t.Errorf("x-outcrop-adaptations = %q, want prompt-as-chat", adapted)
		}
	})

	t.Run("TitanStrictIsVerbatim", func(t *testing.T) {
		body := `{"inputText":"` + helloWorld + `","textGenerationConfig":{"maxTokenCount":5,"temperature":0}}`
		_, adapted := invoke(t, "amazon.titan-text-express-v1", body, func(o *bedrockruntime.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("x-outcrop-strict", "true"))
		})
		if adapted != "" {
			t.Errorf("strict: x-outcrop-adaptations = %q, want none", adapted)
		}
	})

	// The prompt of the example on Bedrock's DeepSeek page, through the
	// cross-Region inference profile ID the page says to use.
	deepseekBody := func(maxTokens int) string {
		b, _ := json.Marshal(map[string]any{
			"prompt":     "\n<｜begin▁of▁sentence｜><｜User｜>" + helloWorld + "<｜Assistant｜><think>\n\n",
			"max_tokens": maxTokens, "temperature": 0, "top_p": 0.9,
		})
		return string(b)
	}
	type choices struct {
		Choices []struct {
			Text       string  `json:"text"`
			StopReason *string `json:"stop_reason"`
		} `json:"choices"`
		Metrics *struct {
			InputTokenCount  int `json:"inputTokenCount"`
			OutputTokenCount int `json:"outputTokenCount"`
		} `json:"amazon-bedrock-invocationMetrics"`
	}

	t.Run("DeepSeekR1", func(t *testing.T) {
		out, adapted := invoke(t, "us.deepseek.r1-v1:0", deepseekBody(60))
		var r choices
		if err := json.Unmarshal(out.Body, &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Choices) != 1 || len(strings.Fields(r.Choices[0].Text)) < 3 || r.Choices[0].StopReason == nil ||
			(*r.Choices[0].StopReason != "stop" && *r.Choices[0].StopReason != "length") {
			t.Errorf("body = %s", out.Body)
		}
		if adapted != "prompt-as-chat" {
			t.Errorf("x-outcrop-adaptations = %q, want prompt-as-chat", adapted)
		}
	})

	t.Run("DeepSeekR1Stream", func(t *testing.T) {
		out, err := c.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{
			ModelId: aws.String("us.deepseek.r1-v1:0"), Body: []byte(deepseekBody(60))})
		if err != nil {
			t.Fatal(err)
		}
		stream := out.GetStream()
		defer stream.Close()
		var text strings.Builder
		var last choices
		n := 0
		for ev := range stream.Events() {
			var ch choices
			if err := json.Unmarshal(ev.(*rt.ResponseStreamMemberChunk).Value.Bytes, &ch); err != nil {
				t.Fatal(err)
			}
			if len(ch.Choices) != 1 {
				t.Fatalf("chunk %d has %d choices", n, len(ch.Choices))
			}
			text.WriteString(ch.Choices[0].Text)
			last = ch
			n++
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d chunks: %q", n, text.String())
		if len(strings.Fields(text.String())) < 3 || last.Choices[0].StopReason == nil || last.Metrics == nil || last.Metrics.OutputTokenCount < 3 {
			t.Errorf("text %q, last chunk %+v", text.String(), last)
		}
	})

	t.Run("DeepSeekConverse", func(t *testing.T) {
		out, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("us.deepseek.r1-v1:0"), Messages: userText(helloWorld),
			InferenceConfig: &rt.InferenceConfiguration{Temperature: aws.Float32(0), MaxTokens: aws.Int32(60)}})
		if err != nil {
			t.Fatal(err)
		}
		text := out.Output.(*rt.ConverseOutputMemberMessage).Value.Content[0].(*rt.ContentBlockMemberText).Value
		t.Logf("converse: %q", text)
		if len(strings.Fields(text)) < 3 {
			t.Errorf("answer %q", text)
		}
	})

	t.Run("LlamaContinuation", func(t *testing.T) {
		// An unformatted Llama prompt is continued, as on Bedrock.
		_, adapted := invoke(t, "meta.llama3-8b-instruct-v1:0", `{"prompt":"The capital of France is","max_gen_len":5,"temperature":0}`)
		if adapted != "" {
			t.Errorf("x-outcrop-adaptations = %q, want none", adapted)
		}
	})
}
