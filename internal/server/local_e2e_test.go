package server_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/engine/weightstest"
	familyall "github.com/outcrop/outcrop/internal/family/all"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/local"
)

const smolModel = "outcrop.smollm2-135m-instruct"

// realModelsDir returns the directory holding the default weights, or
// skips the test when they have not been fetched.
func realModelsDir(t testing.TB) string {
	t.Helper()
	if outcroptest.RaceEnabled() {
		t.Skip("the real models run too slowly under the race detector; run without -race (the scheduler and adapter have race tests on synthetic models)")
	}
	dir := weightstest.Dir()
	for _, p := range []string{"SmolLM2-135M-Instruct.Q4_1.gguf", "all-MiniLM-L6-v2/model.safetensors"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Skipf("%s not found in %s; fetch the default models with scripts/fetch-models.sh", p, dir)
		}
	}
	return dir
}

// newLocalServer starts a server with the default catalog served by the
// local engine from the real models directory.
func newLocalServer(t testing.TB) *outcroptest.Server {
	dir := realModelsDir(t)
	def, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	return outcroptest.NewServer(t, localServerOptions(dir, def))
}

// localServerOptions serves def's catalog with the local engine from dir.
func localServerOptions(dir string, def *config.Config) outcroptest.Options {
	return outcroptest.Options{
		Families: familyall.Families,
		Extra:    []provider.Spec{local.Spec},
		Mutate: func(c *config.Config) {
			c.Backends["local"] = config.Backend{Kind: "local", Config: map[string]any{"threads": 2}}
			c.ModelsDir = dir
			c.Models = def.Models
		},
	}
}

// TestLocalEngine runs the real default models behind a real server and
// talks to it with the AWS SDK.
func TestLocalEngine(t *testing.T) {
	srv := newLocalServer(t)
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	ctx := context.Background()
	greedy := &rt.InferenceConfiguration{Temperature: aws.Float32(0), MaxTokens: aws.Int32(40)}
	question := userText("What is the capital of France?")

	converse := func(t *testing.T, msgs []rt.Message, cfg *rt.InferenceConfiguration) (string, *bedrockruntime.ConverseOutput) {
		t.Helper()
		out, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(smolModel), Messages: msgs, InferenceConfig: cfg})
		if err != nil {
			t.Fatal(err)
		}
		msg := out.Output.(*rt.ConverseOutputMemberMessage).Value
		return msg.Content[0].(*rt.ContentBlockMemberText).Value, out
	}

	var answer string
	t.Run("Converse", func(t *testing.T) {
		text, out := converse(t, question, greedy)
		answer = text
		t.Logf("answer: %q, usage %d+%d", text, *out.Usage.InputTokens, *out.Usage.OutputTokens)
		if strings.TrimSpace(text) == "" {
			t.Error("empty answer")
		}
		if *out.Usage.InputTokens < 10 || *out.Usage.OutputTokens < 1 || *out.Usage.TotalTokens != *out.Usage.InputTokens+*out.Usage.OutputTokens {
			t.Errorf("usage = in %d out %d total %d", *out.Usage.InputTokens, *out.Usage.OutputTokens, *out.Usage.TotalTokens)
		}
		if out.StopReason != rt.StopReasonEndTurn && out.StopReason != rt.StopReasonMaxTokens {
			t.Errorf("stopReason = %q", out.StopReason)
		}
		again, _ := converse(t, question, greedy)
		if again != text {
			t.Errorf("temperature 0 is not deterministic: %q then %q", text, again)
		}
	})

	t.Run("CountTokens", func(t *testing.T) {
		n, err := c.CountTokens(ctx, &bedrockruntime.CountTokensInput{ModelId: aws.String(smolModel),
			Input: &rt.CountTokensInputMemberConverse{Value: rt.ConverseTokensRequest{Messages: question}}})
		if err != nil {
			t.Fatal(err)
		}
		_, out := converse(t, question, &rt.InferenceConfiguration{Temperature: aws.Float32(0), MaxTokens: aws.Int32(1)})
		if *n.InputTokens != *out.Usage.InputTokens {
			t.Errorf("CountTokens = %d, Converse input tokens = %d", *n.InputTokens, *out.Usage.InputTokens)
		}
	})

	t.Run("MaxTokens", func(t *testing.T) {
		_, out := converse(t, userText("Write a long story about a dragon."), &rt.InferenceConfiguration{Temperature: aws.Float32(0), MaxTokens: aws.Int32(5)})
		if out.StopReason != rt.StopReasonMaxTokens || *out.Usage.OutputTokens != 5 {
			t.Errorf("stopReason %q, outputTokens %d; want max_tokens, 5", out.StopReason, *out.Usage.OutputTokens)
		}
	})

	t.Run("StopSequence", func(t *testing.T) {
		words := strings.Fields(answer)
		if len(words) < 3 {
			t.Skipf("answer %q too short to pick a stop sequence", answer)
		}
		stop := words[2]
		text, out := converse(t, question, &rt.InferenceConfiguration{Temperature: aws.Float32(0), MaxTokens: aws.Int32(40), StopSequences: []string{stop}})
		if out.StopReason != rt.StopReasonStopSequence {
			t.Errorf("stopReason = %q, want stop_sequence", out.StopReason)
		}
		if want := answer[:strings.Index(answer, stop)]; text != want {
			t.Errorf("text = %q, want %q (before %q)", text, want, stop)
		}
	})

	t.Run("ConverseStream", func(t *testing.T) {
		out, err := c.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(smolModel), Messages: question, InferenceConfig: greedy})
		if err != nil {
			t.Fatal(err)
		}
		stream := out.GetStream()
		defer stream.Close()
		var types []string
		var text strings.Builder
		var usage *rt.TokenUsage
		for ev := range stream.Events() {
			name := ""
			switch e := ev.(type) {
			case *rt.ConverseStreamOutputMemberMessageStart:
				name = "messageStart"
			case *rt.ConverseStreamOutputMemberContentBlockDelta:
				name = "delta"
				text.WriteString(e.Value.Delta.(*rt.ContentBlockDeltaMemberText).Value)
			case *rt.ConverseStreamOutputMemberContentBlockStop:
				name = "blockStop"
			case *rt.ConverseStreamOutputMemberMessageStop:
				name = "messageStop"
			case *rt.ConverseStreamOutputMemberMetadata:
				name = "metadata"
				usage = e.Value.Usage
			}
			if n := len(types); n == 0 || name != "delta" || types[n-1] != "delta" {
				types = append(types, name)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		want := []string{"messageStart", "delta", "blockStop", "messageStop", "metadata"}
		if diff := cmp.Diff(want, types); diff != "" {
			t.Errorf("event order (-want +got, deltas collapsed):\n%s", diff)
		}
		if text.String() != answer {
			t.Errorf("streamed %q, Converse said %q", text.String(), answer)
		}
		if usage == nil || *usage.OutputTokens < 1 {
			t.Errorf("usage = %+v", usage)
		}
	})

	t.Run("InvokeTitanText", func(t *testing.T) {
		// Titan answers instructions: the chat model is given the prompt as
		// a user turn (prompt-as-chat), so it answers as Converse does.
		want, conv := converse(t, question, greedy)
		body := `{"inputText":"What is the capital of France?","textGenerationConfig":{"maxTokenCount":40,"temperature":0}}`
		out, err := c.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("amazon.titan-text-express-v1"), Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			InputTextTokenCount int `json:"inputTextTokenCount"`
			Results             []struct {
				TokenCount       int    `json:"tokenCount"`
				OutputText       string `json:"outputText"`
				CompletionReason string `json:"completionReason"`
			} `json:"results"`
		}
		if err := json.Unmarshal(out.Body, &r); err != nil {
			t.Fatal(err)
		}
		t.Logf("titan: %s", out.Body)
		if len(r.Results) != 1 || r.Results[0].OutputText != want || r.InputTextTokenCount != int(*conv.Usage.InputTokens) {
			t.Errorf("body = %s", out.Body)
		}
	})

	t.Run("InvokeAnthropic", func(t *testing.T) {
		body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":30,"temperature":0,"messages":[{"role":"user","content":"What is the capital of France?"}]}`
		out, err := c.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("anthropic.claude-3-haiku-20240307-v1:0"), Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Content []struct {
				Type, Text string
			} `json:"content"`
			StopReason string `json:"stop_reason"`
			Usage      struct {
				InputTokens  int `json:"input_tokens"`
				OutputTokens int `json:"output_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal(out.Body, &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Content) != 1 || r.Content[0].Text == "" || r.Usage.InputTokens < 10 || r.Usage.OutputTokens < 1 {
			t.Errorf("body = %s", out.Body)
		}
	})

	t.Run("InvokeModelWithResponseStream", func(t *testing.T) {
		body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":20,"temperature":0,"messages":[{"role":"user","content":"Say hello."}]}`
		out, err := c.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{
			ModelId: aws.String("anthropic.claude-3-haiku-20240307-v1:0"), Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		stream := out.GetStream()
		defer stream.Close()
		var types []string
		var text strings.Builder
		for ev := range stream.Events() {
			var m struct {
				Type  string `json:"type"`
				Delta struct {
					Text string `json:"text"`
				} `json:"delta"`
			}
			if err := json.Unmarshal(ev.(*rt.ResponseStreamMemberChunk).Value.Bytes, &m); err != nil {
				t.Fatal(err)
			}
			if n := len(types); n == 0 || types[n-1] != m.Type {
				types = append(types, m.Type)
			}
			if m.Type == "content_block_delta" {
				text.WriteString(m.Delta.Text)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if types[0] != "message_start" || types[len(types)-1] != "message_stop" || text.Len() == 0 {
			t.Errorf("chunk types %v, text %q", types, text.String())
		}
	})

	embed := func(t *testing.T, model, text string) []float64 {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"inputText": text})
		out, err := c.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: body})
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Embedding           []float64 `json:"embedding"`
			InputTextTokenCount int       `json:"inputTextTokenCount"`
		}
		if err := json.Unmarshal(out.Body, &r); err != nil {
			t.Fatal(err)
		}
		if r.InputTextTokenCount < 3 {
			t.Errorf("inputTextTokenCount = %d", r.InputTextTokenCount)
		}
		return r.Embedding
	}
	t.Run("Embeddings", func(t *testing.T) {
		// A V2 body without dimensions gets the model's native size.
		const model = "amazon.titan-embed-text-v2:0"
		a := embed(t, model, "A cat sits on the mat.")
		b := embed(t, model, "A kitten is resting on a rug.")
		u := embed(t, model, "Quarterly revenue rose by eight percent.")
		if len(a) != 384 {
			t.Fatalf("dimensions = %d, want 384", len(a))
		}
		if g1 := embed(t, "amazon.titan-embed-text-v1", "A cat sits on the mat."); len(g1) != 384 || math.Abs(dot(a, g1)-1) > 1e-4 {
			t.Errorf("titan-embed-text-v1 gives a different vector (%d dims, cos %.4f)", len(g1), dot(a, g1))
		}
		if n := dot(a, a); math.Abs(n-1) > 1e-4 {
			t.Errorf("norm² = %g, want 1", n)
		}
		if sim, far := dot(a, b), dot(a, u); sim <= far {
			t.Errorf("cos(similar) = %.3f <= cos(unrelated) = %.3f", sim, far)
		}
	})
	t.Run("EmbeddingsV2Dimensions", func(t *testing.T) {
		_, err := c.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("amazon.titan-embed-text-v2:0"),
			Body: []byte(`{"inputText":"hello","dimensions":256}`)})
		code, status := apiError(t, err)
		if code != "ValidationException" || status != 400 || !strings.Contains(err.Error(), "384-dimensional") {
			t.Errorf("dimensions 256: %s %d %v", code, status, err)
		}
	})
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// BenchmarkLocalConverseStream measures, through the SDK and a running
// server, the time to the first token of a ~100-token prompt that shares
// no cached prefix with earlier requests, and the decode speed of the
// following 64 tokens (greedy, SmolLM2-135M Q4_1, threads 2).
//
//	GOEXPERIMENT=simd go test ./internal/server/ -run '^$' -bench LocalConverseStream -benchtime 5x
func BenchmarkLocalConverseStream(b *testing.B) {
	srv := newLocalServer(b)
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	ctx := context.Background()
	user := "Here are some notes about rivers. The Nile flows north through eleven countries and empties into the Mediterranean Sea. " +
		"The Amazon carries more water than any other river on Earth. The Danube passes through four capital cities. " +
		"The Mississippi drains most of the United States between two mountain ranges. The Thames runs through London to the North Sea. " +
		"Summarise these notes in one sentence."
	// Load the model before measuring.
	if _, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(smolModel), Messages: userText("Hi"),
		InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(1)}}); err != nil {
		b.Fatal(err)
	}
	var ttft, decode time.Duration
	var prompt, decoded int
	for i := 0; b.Loop(); i++ {
		in := &bedrockruntime.ConverseStreamInput{ModelId: aws.String(smolModel), Messages: userText(user),
			System:          []rt.SystemContentBlock{&rt.SystemContentBlockMemberText{Value: "Request " + strconv.Itoa(i) + ". You are a concise assistant."}},
			InferenceConfig: &rt.InferenceConfiguration{Temperature: aws.Float32(0), MaxTokens: aws.Int32(65)}}
		start := time.Now()
		out, err := c.ConverseStream(ctx, in)
		if err != nil {
			b.Fatal(err)
		}
		var first, last time.Time
		for ev := range out.GetStream().Events() {
			switch e := ev.(type) {
			case *rt.ConverseStreamOutputMemberContentBlockDelta:
				if first.IsZero() {
					first = time.Now()
				}
				last = time.Now()
			case *rt.ConverseStreamOutputMemberMetadata:
				prompt = int(*e.Value.Usage.InputTokens)
				decoded += int(*e.Value.Usage.OutputTokens) - 1
			}
		}
		if err := out.GetStream().Err(); err != nil {
			b.Fatal(err)
		}
		ttft += first.Sub(start)
		decode += last.Sub(first)
	}
	b.ReportMetric(ttft.Seconds()/float64(b.N), "ttft_s")
	b.ReportMetric(float64(decoded)/decode.Seconds(), "decode_tok/s")
	b.ReportMetric(float64(prompt), "prompt_tokens")
}

// TestLocalEngineMetrics checks the built-in engine's gauges on /metrics:
// nothing loaded at start, then the chat model loaded with its booked
// memory and no request running.
func TestLocalEngineMetrics(t *testing.T) {
	srv := newLocalServer(t)
	scrape := func() string {
		t.Helper()
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if m := scrape(); !strings.Contains(m, `outcrop_engine_loaded_models{backend="local"} 0`) {
		t.Errorf("before any call, /metrics lacks outcrop_engine_loaded_models 0")
	}
	if _, err := runtimeClient(srv, srv.Key.ID, srv.Key.Secret).Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId: aws.String(smolModel), Messages: userText("Hi"), InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(2)}}); err != nil {
		t.Fatal(err)
	}
	m := scrape()
	for _, want := range []string{
		`outcrop_engine_loaded_models{backend="local"} 1`,
		`outcrop_engine_active_sequences{backend="local",model="SmolLM2-135M-Instruct.Q4_1.gguf"} 0`,
		`outcrop_engine_waiting_requests{backend="local",model="SmolLM2-135M-Instruct.Q4_1.gguf"} 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	re := regexp.MustCompile(`outcrop_engine_model_memory_bytes\{backend="local",model="SmolLM2-135M-Instruct.Q4_1.gguf"\} ([0-9.e+]+)`)
	if g := re.FindStringSubmatch(m); g == nil {
		t.Errorf("/metrics lacks the model's memory")
	} else if v, _ := strconv.ParseFloat(g[1], 64); v < 90<<20 {
		t.Errorf("model memory %v bytes, want at least the 94 MB file", v)
	}
}
