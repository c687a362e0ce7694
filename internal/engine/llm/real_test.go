package llm

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/engine/grammar"
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
// ends generation and never reaches the output. The stop string is taken
// from the model's own greedy answer, across a token boundary, so the test
// does not depend on which answer the model gives.
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
	prompt := m.Tokenizer().Encode(chatML("What is the capital of France?"), true)
	generate := func(stop []string) (Result, []string) {
		var pieces []string
		res, err := s.Generate(context.Background(), prompt, sample.Params{MaxTokens: 40, Stop: stop}, func(tk Token) bool {
			pieces = append(pieces, tk.Text)
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		return res, pieces
	}
	_, free := generate(nil)
	if len(free) < 4 {
		t.Fatalf("greedy answer %q is too short to cut", strings.Join(free, ""))
	}
	// The last character of the second piece and the first two of the
	// third (or the whole third piece, if shorter) span a token boundary.
	before := strings.Join(free[:2], "")
	third := []rune(free[2])
	stop := string([]rune(before)[len([]rune(before))-1:]) + string(third[:min(2, len(third))])
	want := before[:len(before)-len(string([]rune(before)[len([]rune(before))-1:]))]

	res, pieces := generate([]string{stop})
	got := strings.Join(pieces, "")
	t.Logf("free %q, stop %q: %+v %q", strings.Join(free, ""), stop, res, got)
	if res.StopReason != sample.StopSequence || res.StopSequence != stop || got != want {
		t.Errorf("Generate with stop %q = %+v with text %q; want a stop_sequence stop with text %q", stop, res, got, want)
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

// TestSmolLM2JSON checks on the real model that a JSON constraint keeps its
// output a JSON text: free JSON may run to the token limit (a 135M model
// can list keys forever), but every byte of it is valid as far as it goes
// and a finished answer parses; with a schema whose object has two
// required keys and no others, the answer must finish, greedy and sampled.
func TestSmolLM2JSON(t *testing.T) {
	m, err := Load(smolPath(t), Options{Archs: testArchs, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.NewSession(512)
	if err != nil {
		t.Fatal(err)
	}
	prompt := m.Tokenizer().Encode(chatML("Give the name and the country of the capital of France, as JSON."), true)
	generate := func(p sample.Params) (string, Result) {
		var out strings.Builder
		res, err := s.Generate(context.Background(), prompt, p, func(tk Token) bool {
			out.WriteString(tk.Text)
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), res
	}

	free, res := generate(sample.Params{MaxTokens: 120, Constraint: m.JSONConstraint(nil, true)})
	j := grammar.NewJSON(true)
	for i := 0; i < len(free); i++ {
		if !j.Step(free[i]) {
			t.Fatalf("free JSON: output %q breaks JSON at byte %d", free, i)
		}
	}
	if res.StopReason == sample.EndTurn && !json.Valid([]byte(free)) {
		t.Errorf("free JSON: finished output %q does not parse", free)
	}
	t.Logf("free JSON (%s, %d tokens): %s", res.StopReason, res.OutputTokens, free)

	sc, err := grammar.CompileSchema([]byte(`{"type":"object","properties":{"name":{"type":"string"},"country":{"type":"string"}},"required":["name","country"],"additionalProperties":false}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []sample.Params{
		{MaxTokens: 120},
		{MaxTokens: 120, Temperature: 0.8, TopP: 0.95, Seed: 7},
	} {
		p.Constraint = m.JSONConstraint(sc, true)
		out, res := generate(p)
		var v map[string]any
		err := json.Unmarshal([]byte(out), &v)
		_, name := v["name"].(string)
		_, country := v["country"].(string)
		if err != nil || res.StopReason != sample.EndTurn || !name || !country || len(v) != 2 {
			t.Errorf("schema, temperature %v: output %q (%s): %v", p.Temperature, out, res.StopReason, err)
		}
		t.Logf("schema, temperature %v (%d tokens): %s", p.Temperature, res.OutputTokens, out)
	}
}
