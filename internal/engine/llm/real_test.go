package llm

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/engine/sample"
	"github.com/outcrop/outcrop/internal/engine/weightstest"
)

// smolPath returns the default model's path, or skips the test.
func smolPath(t testing.TB) string { return weightstest.Path(t, "SmolLM2-135M-Instruct.Q4_1.gguf") }

// chatML renders one user turn with SmolLM2's default system prompt, as
// its chat template does with add_generation_prompt.
func chatML(user string) string {
	return "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n" +
		"<|im_start|>user\n" + user + "<|im_end|>\n<|im_start|>assistant\n"
}

// TestSmolLM2StopSequence checks on the real model that a stop sequence
// ends generation and never reaches the output.
func TestSmolLM2StopSequence(t *testing.T) {
	path := smolPath(t)
	m, err := Load(path, Options{Archs: testArchs, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.NewSession(256)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	prompt := m.Tokenizer().Encode(chatML("What is the capital of France?"), true)
	res, err := s.Generate(context.Background(), prompt, sample.Params{MaxTokens: 40, Stop: []string{", la"}}, func(tk Token) bool {
		out.WriteString(tk.Text)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v: %q", res, out.String())
	if res.StopReason != sample.StopSequence || strings.Contains(out.String(), ", la") || out.Len() == 0 {
		t.Errorf("Generate = %+v with text %q; want a stop on \", la\" with the text before it", res, out.String())
	}
}

// TestSmolLM2Deterministic checks on the real model, whose one-input and
// batched kernels round differently, that splitting the prompt does not
// change logits and that a repeated greedy Generate on a session with a
// cached prefix gives the same tokens as the first run.
func TestSmolLM2Deterministic(t *testing.T) {
	m, err := Load(smolPath(t), Options{Archs: testArchs, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	prompt := m.Tokenizer().Encode(chatML("List three colors."), true)
	prompt = append(prompt, testPrompt(65-len(prompt), 49152)...)
	checkBatching(t, m, prompt)

	s, err := m.NewSession(256)
	if err != nil {
		t.Fatal(err)
	}
	chat := m.Tokenizer().Encode(chatML("List three colors."), true)
	run := func() []int32 {
		var ids []int32
		if _, err := s.Generate(context.Background(), chat, sample.Params{MaxTokens: 12}, func(tk Token) bool {
			ids = append(ids, tk.ID)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	first, second := run(), run()
	if !slices.Equal(first, second) {
		t.Errorf("greedy rerun with a cached prefix gave %v, first run %v", second, first)
	}
}
