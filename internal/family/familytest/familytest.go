// Package familytest holds what the family codec tests share: canonical
// responses and stream event sequences to encode, golden-file comparison,
// and checks on Bedrock-style validation errors.
package familytest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// Golden compares got with the file at path, first rewriting the file when
// update is set. JSON is compared as indented text so diffs are readable.
func Golden(t *testing.T, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// Indent pretty-prints one JSON document, failing the test if it is not
// valid JSON.
func Indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// Chunks runs evs through s and returns the chunks one per line, each
// checked to be a single JSON object.
func Chunks(t *testing.T, s family.Stream, evs []provider.Event) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, ev := range evs {
		cs, err := s.Chunks(ev)
		if err != nil {
			t.Fatalf("Chunks(%+v): %v", ev, err)
		}
		for _, c := range cs {
			var m map[string]any
			if err := json.Unmarshal(c, &m); err != nil {
				t.Fatalf("chunk %s is not a JSON object: %v", c, err)
			}
			if bytes.ContainsRune(c, '\n') {
				t.Fatalf("chunk %q spans lines", c)
			}
			out.Write(c)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

// Invalid checks that err is fault.Invalid with the client message want.
func Invalid(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want %q", want)
	}
	if k := fault.KindOf(err); k != fault.Invalid {
		t.Errorf("kind = %v, want Invalid (err %v)", k, err)
	}
	if got := fault.Message(err); got != want {
		t.Errorf("message:\n got %q\nwant %q", got, want)
	}
}

// FuzzChat checks the invariants every chat decoder keeps on arbitrary
// input: no panic, and an error is always fault.Invalid; a decoded request
// can be encoded back and streamed.
func FuzzChat(t *testing.T, c family.ChatCodec, body []byte) {
	req, err := c.DecodeRequest(body)
	if err != nil {
		if fault.KindOf(err) != fault.Invalid {
			t.Fatalf("DecodeRequest(%q) error %v is not Invalid", body, err)
		}
		return
	}
	if req == nil {
		t.Fatalf("DecodeRequest(%q) = nil, nil", body)
	}
	if _, err := c.EncodeResponse(req, TextResponse()); err != nil {
		t.Fatalf("EncodeResponse: %v", err)
	}
	s := c.NewStream(req)
	for _, ev := range TextEvents() {
		s.Chunks(ev) // may refuse (no streaming), must not panic
	}
}

// FuzzEmbed is FuzzChat for embedding codecs.
func FuzzEmbed(t *testing.T, c family.EmbedCodec, body []byte) {
	req, err := c.DecodeEmbed(body)
	if err != nil {
		if fault.KindOf(err) != fault.Invalid {
			t.Fatalf("DecodeEmbed(%q) error %v is not Invalid", body, err)
		}
		return
	}
	resp := &provider.EmbedResponse{InputTokens: 3}
	for range req.Texts {
		resp.Vectors = append(resp.Vectors, []float32{0.5, -0.25, 0, 1})
	}
	if _, err := c.EncodeEmbed(req, resp); err != nil {
		t.Fatalf("EncodeEmbed: %v", err)
	}
}

// FuzzImage is FuzzChat for image codecs.
func FuzzImage(t *testing.T, c family.ImageCodec, body []byte) {
	req, err := c.DecodeImage(body)
	if err != nil {
		if fault.KindOf(err) != fault.Invalid {
			t.Fatalf("DecodeImage(%q) error %v is not Invalid", body, err)
		}
		return
	}
	if _, err := c.EncodeImage(req, ImageResponse(req)); err != nil {
		t.Fatalf("EncodeImage: %v", err)
	}
}

// ImageResponse answers req with req.Count (at least one) small
// placeholder images in the format req asks for.
func ImageResponse(req *provider.ImageRequest) *provider.ImageResponse {
	f := req.Format
	if f == "" {
		f = "png"
	}
	resp := &provider.ImageResponse{}
	for i := range max(req.Count, 1) {
		resp.Images = append(resp.Images, provider.Image{Format: f, Data: []byte{'i', 'm', 'g', byte('0' + i%10)}})
	}
	return resp
}

// Chat is the conversation of system (none when "") and turns of text,
// the user's first and then alternating: what a raw prompt is read as
// (provider.Request.PromptChat).
func Chat(system string, turns ...string) *provider.Conversation {
	c := &provider.Conversation{}
	if system != "" {
		c.System = []provider.Block{{Type: provider.TextBlock, Text: system}}
	}
	for i, t := range turns {
		role := provider.User
		if i%2 == 1 {
			role = provider.Assistant
		}
		c.Messages = append(c.Messages, provider.Message{Role: role, Content: []provider.Block{{Type: provider.TextBlock, Text: t}}})
	}
	return c
}

// Float returns a pointer to v.
func Float(v float64) *float64 { return &v }

// Int returns a pointer to v.
func Int(v int) *int { return &v }

// TextResponse is a plain text answer that ended its turn.
func TextResponse() *provider.Response {
	return &provider.Response{
		Message:    provider.Message{Role: provider.Assistant, Content: []provider.Block{{Type: provider.TextBlock, Text: "Hello, world."}}},
		StopReason: provider.EndTurn,
		Usage:      provider.Usage{InputTokens: 12, OutputTokens: 4},
	}
}

// MaxTokensResponse is a text answer cut off by the token limit.
func MaxTokensResponse() *provider.Response {
	return &provider.Response{
		Message:    provider.Message{Role: provider.Assistant, Content: []provider.Block{{Type: provider.TextBlock, Text: "Once upon a"}}},
		StopReason: provider.MaxTokens,
		Usage:      provider.Usage{InputTokens: 9, OutputTokens: 3},
	}
}

// StopSequenceResponse is a text answer ended by the stop sequence "\n\nHuman:".
func StopSequenceResponse() *provider.Response {
	return &provider.Response{
		Message:      provider.Message{Role: provider.Assistant, Content: []provider.Block{{Type: provider.TextBlock, Text: "Sure."}}},
		StopReason:   provider.StopSequence,
		StopSequence: "\n\nHuman:",
		Usage:        provider.Usage{InputTokens: 7, OutputTokens: 2},
	}
}

// ToolResponse is a short text followed by one tool call.
func ToolResponse() *provider.Response {
	return &provider.Response{
		Message: provider.Message{Role: provider.Assistant, Content: []provider.Block{
			{Type: provider.TextBlock, Text: "Let me check."},
			{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: "tooluse_1", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}},
		}},
		StopReason: provider.ToolUseStop,
		Usage:      provider.Usage{InputTokens: 30, OutputTokens: 15},
	}
}

// TextEvents is the canonical stream of a two-delta text answer.
func TextEvents() []provider.Event {
	return []provider.Event{
		{Type: provider.MessageStartEvent},
		{Type: provider.TextDeltaEvent, Index: 0, Text: "Hello"},
		{Type: provider.TextDeltaEvent, Index: 0, Text: ", world."},
		{Type: provider.BlockStopEvent, Index: 0},
		{Type: provider.MessageStopEvent, StopReason: provider.EndTurn},
		{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: 12, OutputTokens: 4}},
	}
}

// ToolEvents is the canonical stream of a text block followed by a tool
// call whose input arrives in two fragments.
func ToolEvents() []provider.Event {
	return []provider.Event{
		{Type: provider.MessageStartEvent},
		{Type: provider.TextDeltaEvent, Index: 0, Text: "Let me check."},
		{Type: provider.BlockStopEvent, Index: 0},
		{Type: provider.BlockStartEvent, Index: 1, ToolUse: &provider.ToolUse{ID: "tooluse_1", Name: "get_weather"}},
		{Type: provider.ToolInputDeltaEvent, Index: 1, Text: `{"city":`},
		{Type: provider.ToolInputDeltaEvent, Index: 1, Text: `"Paris"}`},
		{Type: provider.BlockStopEvent, Index: 1},
		{Type: provider.MessageStopEvent, StopReason: provider.ToolUseStop},
		{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: 30, OutputTokens: 15}},
	}
}

// ReasoningEvents is the canonical stream of a reasoning block followed by
// a text block.
func ReasoningEvents() []provider.Event {
	return []provider.Event{
		{Type: provider.MessageStartEvent},
		{Type: provider.ReasoningDeltaEvent, Index: 0, Text: "The user greets me."},
		{Type: provider.BlockStopEvent, Index: 0},
		{Type: provider.TextDeltaEvent, Index: 1, Text: "Hi!"},
		{Type: provider.BlockStopEvent, Index: 1},
		{Type: provider.MessageStopEvent, StopReason: provider.EndTurn},
		{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: 5, OutputTokens: 9}},
	}
}
