package local

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/outcrop/outcrop/internal/engine/enginetest"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const chatML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
	"{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

// newTest returns an adapter over a models directory holding a synthetic
// chat model "tiny.gguf" and a tiny embedder "bert".
func newTest(t *testing.T, cfg string) *Adapter {
	t.Helper()
	dir := t.TempDir()
	enginetest.TinyLlama(t, dir, "tiny.gguf", 3, chatML)
	writeTinyBERT(t, filepath.Join(dir, "bert"))
	a, err := New(json.RawMessage(cfg), provider.Env{ModelsDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func f64(v float64) *float64 { return &v }

func userReq(text string) *provider.Request {
	return &provider.Request{Model: "tiny.gguf", Temperature: f64(0),
		System:   []provider.Block{{Type: provider.TextBlock, Text: "Be brief."}},
		Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{{Type: provider.TextBlock, Text: text}}}}}
}

// byteCount is the token count of text in the synthetic vocabulary: one
// token per byte outside the ChatML control tokens.
func byteCount(text string) int {
	n := 0
	for _, sp := range []string{"<|im_start|>", "<|im_end|>"} {
		n += strings.Count(text, sp)
		text = strings.ReplaceAll(text, sp, "")
	}
	return n + len(text)
}

func TestConverseStreamEvents(t *testing.T) {
	a := newTest(t, "")
	req := userReq("hello there")
	req.MaxTokens = 12
	var types []provider.EventType
	var text strings.Builder
	var last provider.Event
	var stop provider.Event
	err := a.ConverseStream(context.Background(), req, func(ev provider.Event) error {
		if n := len(types); n == 0 || ev.Type != provider.TextDeltaEvent || types[n-1] != provider.TextDeltaEvent {
			types = append(types, ev.Type)
		}
		if ev.Type == provider.TextDeltaEvent {
			if ev.Text == "" || !utf8.ValidString(ev.Text) {
				t.Errorf("delta %q is empty or not valid UTF-8", ev.Text)
			}
			text.WriteString(ev.Text)
		}
		if ev.Type == provider.MessageStopEvent {
			stop = ev
		}
		last = ev
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.EventType{provider.MessageStartEvent, provider.TextDeltaEvent, provider.BlockStopEvent, provider.MessageStopEvent, provider.MetadataEvent}
	if text.Len() == 0 {
		want = append(want[:1], want[2:]...)
	}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("event order (-want +got, deltas collapsed):\n%s", diff)
	}
	prompt := "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n"
	if got, want := last.Usage.InputTokens, byteCount(prompt); got != want {
		t.Errorf("input tokens = %d, want %d", got, want)
	}
	if last.Usage.OutputTokens < 1 || last.Usage.OutputTokens > 12 {
		t.Errorf("output tokens = %d, want 1..12", last.Usage.OutputTokens)
	}
	if stop.StopReason != provider.MaxTokens && stop.StopReason != provider.EndTurn {
		t.Errorf("stop reason = %q", stop.StopReason)
	}
	n, err := a.CountTokens(context.Background(), req)
	if err != nil || n != last.Usage.InputTokens {
		t.Errorf("CountTokens = %d, %v; want %d", n, err, last.Usage.InputTokens)
	}

	// Converse at temperature 0 gives the same text.
	resp, err := a.Converse(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := provider.TextOf(resp.Message.Content); got != text.String() {
		t.Errorf("Converse text %q, stream %q", got, text.String())
	}
}

func TestMaxTokensAndSeed(t *testing.T) {
	a := newTest(t, "")
	req := userReq("count")
	req.MaxTokens = 3
	req.Temperature = f64(1)
	seed := int64(42)
	req.Seed = &seed
	var texts []string
	for range 2 {
		resp, err := a.Converse(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Usage.OutputTokens > 3 {
			t.Errorf("output tokens = %d, want at most 3", resp.Usage.OutputTokens)
		}
		if resp.Usage.OutputTokens == 3 && resp.StopReason != provider.MaxTokens {
			t.Errorf("stop reason = %q, want max_tokens", resp.StopReason)
		}
		texts = append(texts, provider.TextOf(resp.Message.Content))
	}
	if texts[0] != texts[1] {
		t.Errorf("same seed gave %q and %q", texts[0], texts[1])
	}
}

func TestRequestErrors(t *testing.T) {
	a := newTest(t, `{"contextTokens": 64}`)
	long := userReq(strings.Repeat("x", 100))
	fits := userReq("hi")
	fits.MaxTokens = 60
	img := userReq("look")
	img.Messages[0].Content = append(img.Messages[0].Content, provider.Block{Type: provider.ImageBlock, Image: &provider.Image{Format: "png"}})
	pdf := userReq("read")
	pdf.Messages[0].Content = append(pdf.Messages[0].Content, provider.Block{Type: provider.DocumentBlock, Document: &provider.Document{Format: "pdf", Name: "r", Data: []byte{0xff, 0xfe}}})
	missing := userReq("hi")
	missing.Model = "nope.gguf"
	embed := userReq("hi")
	embed.Model = "bert"
	tests := []struct {
		name string
		req  *provider.Request
		kind fault.Kind
		msg  string
	}{
		{"too long", long, fault.Invalid, "The prompt is 138 tokens, which does not fit this model's context window of 64 tokens."},
		{"max tokens", fits, fault.Invalid, "The prompt is 40 tokens and maxTokens is 60: together they exceed this model's context window of 64 tokens. Shorten the prompt or lower maxTokens."},
		{"image", img, fault.Invalid, "This model doesn't support image input."},
		{"pdf", pdf, fault.Invalid, `This model reads only text documents (txt, md, csv, html); the pdf document "r" must be converted to text first.`},
		{"missing", missing, fault.ModelNotReady, "Model weights nope.gguf are not installed in " + a.dir + ". Run scripts/fetch-models.sh to fetch the default models."},
		{"embedder", embed, fault.Invalid, "Model bert is an embedding model; it cannot generate text."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := 0
			err := a.ConverseStream(context.Background(), tt.req, func(provider.Event) error { events++; return nil })
			if fault.KindOf(err) != tt.kind || fault.Message(err) != tt.msg {
				t.Errorf("ConverseStream = %v (kind %v)\nwant kind %v, message %q", err, fault.KindOf(err), tt.kind, tt.msg)
			}
			if events != 0 {
				t.Errorf("%d events before the error, want none", events)
			}
		})
	}
}

func TestPrompts(t *testing.T) {
	a := newTest(t, "")
	prefill := &provider.Request{Model: "tiny.gguf", Messages: []provider.Message{
		{Role: provider.User, Content: []provider.Block{{Type: provider.TextBlock, Text: "Capital of France?"}}},
		{Role: provider.Assistant, Content: []provider.Block{{Type: provider.TextBlock, Text: "The capital is"}}},
	}}
	tool := &provider.Request{Model: "tiny.gguf", Messages: []provider.Message{
		{Role: provider.User, Content: []provider.Block{{Type: provider.TextBlock, Text: "Weather?"}}},
		{Role: provider.Assistant, Content: []provider.Block{{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: "t1", Name: "w", Input: json.RawMessage(`{}`)}}}},
		{Role: provider.User, Content: []provider.Block{{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{ToolUseID: "t1",
			Content: []provider.Block{{Type: provider.JSONBlock, JSON: json.RawMessage(`{"c":21}`)}}}}}},
	}}
	doc := &provider.Request{Model: "tiny.gguf", Messages: []provider.Message{
		{Role: provider.User, Content: []provider.Block{{Type: provider.TextBlock, Text: "Summarise."},
			{Type: provider.DocumentBlock, Document: &provider.Document{Format: "txt", Name: "notes", Data: []byte("a b c")}}}},
	}}
	tests := []struct {
		name string
		req  *provider.Request
		want string
	}{
		{"prefill", prefill, "<|im_start|>user\nCapital of France?<|im_end|>\n<|im_start|>assistant\nThe capital is"},
		{"tool result", tool, "<|im_start|>user\nWeather?<|im_end|>\n<|im_start|>assistant\n<|im_end|>\n<|im_start|>tool\n{\"c\":21}<|im_end|>\n<|im_start|>assistant\n"},
		{"document", doc, "<|im_start|>user\nSummarise.\n\nDocument notes:\na b c<|im_end|>\n<|im_start|>assistant\n"},
		{"raw", &provider.Request{Model: "tiny.gguf", Raw: true, Prompt: "User: hi<|im_end|>"}, "User: hi<|im_end|>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			err := a.sched.Use(context.Background(), "tiny.gguf", func(m *model) error {
				ids, err := m.promptTokens(tt.req)
				got = m.chat.Tokenizer().Decode(ids)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("prompt (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStopsOnCancelAndEmitError(t *testing.T) {
	a := newTest(t, "")
	req := userReq("go on")
	req.MaxTokens = 200
	req.Temperature = f64(1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deltas := 0
	err := a.ConverseStream(ctx, req, func(ev provider.Event) error {
		if ev.Type == provider.TextDeltaEvent {
			deltas++
			cancel()
		}
		return nil
	})
	if deltas > 0 && !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v, want context.Canceled", err)
	}
	if deltas > 1 {
		t.Errorf("%d deltas after the context ended, want 1", deltas)
	}
	gone := errors.New("client gone")
	err = a.ConverseStream(context.Background(), req, func(ev provider.Event) error {
		if ev.Type == provider.MessageStartEvent {
			return gone
		}
		return nil
	})
	if !errors.Is(err, gone) {
		t.Errorf("emit error: got %v", err)
	}
}

func TestEmbed(t *testing.T) {
	a := newTest(t, "")
	resp, err := a.Embed(context.Background(), &provider.EmbedRequest{Model: "bert", Texts: []string{"the cat sat", "a red dog"}, Normalize: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Vectors) != 2 || len(resp.Vectors[0]) != 24 {
		t.Fatalf("got %d vectors of %d", len(resp.Vectors), len(resp.Vectors[0]))
	}
	for _, v := range resp.Vectors {
		var ss float64
		for _, x := range v {
			ss += float64(x) * float64(x)
		}
		if math.Abs(ss-1) > 1e-4 {
			t.Errorf("norm² = %g, want 1", ss)
		}
	}
	if resp.InputTokens != 5+5 {
		t.Errorf("input tokens = %d, want 10", resp.InputTokens)
	}
	_, err = a.Embed(context.Background(), &provider.EmbedRequest{Model: "bert", Texts: []string{"x"}, Dimensions: 1024})
	if fault.KindOf(err) != fault.Invalid || fault.Message(err) != "This model produces 24-dimensional embeddings; 1024 dimensions are not supported." {
		t.Errorf("Dimensions 1024: %v", err)
	}
	_, err = a.Embed(context.Background(), &provider.EmbedRequest{Model: "tiny.gguf", Texts: []string{"x"}})
	if fault.KindOf(err) != fault.Invalid {
		t.Errorf("embedding with a chat model: %v", err)
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		raw  string
		want Config
		err  string
	}{
		{"", Config{SessionsPerModel: 2, ContextTokens: 4096}, ""},
		{`{"threads":1,"sessionsPerModel":3,"queueDepth":4,"keepAlive":"90s","contextTokens":2048,"memoryBudgetBytes":1000}`,
			Config{Threads: 1, SessionsPerModel: 3, QueueDepth: 4, KeepAlive: Duration(90 * time.Second), ContextTokens: 2048, MemoryBudgetBytes: 1000}, ""},
		{`{"keepAlive":30}`, Config{SessionsPerModel: 2, ContextTokens: 4096, KeepAlive: Duration(30 * time.Second)}, ""},
		{`{"keepAlive":"soon"}`, Config{}, "keepAlive"},
		{`{"thread":1}`, Config{}, "unknown field"},
		{`{"threads":-1}`, Config{}, "negative"},
	}
	for _, tt := range tests {
		got, err := parseConfig(json.RawMessage(tt.raw))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseConfig(%s) error = %v, want %q", tt.raw, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseConfig(%s): %v", tt.raw, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parseConfig(%s) (-want +got):\n%s", tt.raw, diff)
		}
	}
}

func TestTemplatesChat(t *testing.T) {
	a := newTest(t, "")
	enginetest.TinyLlama(t, a.dir, "base.gguf", 3, "")
	ctx := context.Background()
	for _, tt := range []struct {
		model string
		want  bool
	}{
		{"tiny.gguf", true},  // its own ChatML template
		{"base.gguf", false}, // no template: a base model continues prompts
		{"bert", false},      // an embedder
		{"missing.gguf", false},
	} {
		if got := a.TemplatesChat(ctx, tt.model); got != tt.want {
			t.Errorf("TemplatesChat(%q) = %v, want %v", tt.model, got, tt.want)
		}
	}
}
