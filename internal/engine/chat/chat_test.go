package chat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testCase mirrors an entry of testdata/cases.json.
type testCase struct {
	Name     string `json:"name"`
	Template string `json:"template"`
	Gen      bool   `json:"add_generation_prompt"`
	BOS      string `json:"bos"`
	EOS      string `json:"eos"`
	Messages []struct {
		Role       string `json:"role"`
		Content    string `json:"content"`
		ToolCallID string `json:"tool_call_id"`
		Name       string `json:"name"`
		ToolCalls  []struct {
			ID        string          `json:"id"`
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		} `json:"tool_calls"`
	} `json:"messages"`
	Tools []struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"tools"`
}

// goldenOut is one rendering recorded by testdata/gen_golden.py.
type goldenOut struct {
	Output *string `json:"output"`
	Error  *string `json:"error"`
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadCases(t testing.TB) ([]testCase, map[string]goldenOut) {
	var cases []testCase
	if err := json.Unmarshal(readTestdata(t, "cases.json"), &cases); err != nil {
		t.Fatal(err)
	}
	var golden map[string]goldenOut
	if err := json.Unmarshal(readTestdata(t, "golden.json"), &golden); err != nil {
		t.Fatal(err)
	}
	return cases, golden
}

func (c testCase) input() ([]Message, Options) {
	var msgs []Message
	for _, m := range c.Messages {
		msg := Message{Role: m.Role, Content: m.Content, ToolCallID: m.ToolCallID, Name: m.Name}
		for _, tc := range m.ToolCalls {
			msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: tc.ID, Name: tc.Name, Arguments: tc.Arguments})
		}
		msgs = append(msgs, msg)
	}
	opts := Options{BOS: c.BOS, EOS: c.EOS, AddGenerationPrompt: c.Gen}
	for _, tl := range c.Tools {
		opts.Tools = append(opts.Tools, Tool{Name: tl.Name, Description: tl.Description, Parameters: tl.Parameters})
	}
	return msgs, opts
}

func TestRenderGolden(t *testing.T) {
	cases, golden := loadCases(t)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			want, ok := golden[c.Name]
			if !ok {
				t.Fatalf("no golden output for %s", c.Name)
			}
			tpl, err := Parse(string(readTestdata(t, c.Template)))
			if err != nil {
				t.Fatal(err)
			}
			tpl.now = func() time.Time { return time.Date(2024, 7, 26, 12, 0, 0, 0, time.UTC) } // as gen_golden.py
			msgs, opts := c.input()
			got, err := tpl.Render(msgs, opts)
			if want.Error != nil {
				if err == nil {
					t.Fatalf("Render() = %q, want error %q", got, *want.Error)
				}
				return
			}
			if err != nil {
				t.Fatalf("Render() error: %v", err)
			}
			if diff := cmp.Diff(*want.Output, got); diff != "" {
				t.Errorf("Render() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
