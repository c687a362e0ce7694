package adapt_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/outcrop/outcrop/internal/adapt"
	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

// full is a model that supports everything.
var full = catalog.Capabilities{ContextWindow: 8192, System: true, Vision: true, Documents: true, Tools: true, Streaming: true, Prefill: true}

func without(f func(*catalog.Capabilities)) catalog.Capabilities {
	c := full
	f(&c)
	return c
}

func text(s string) provider.Block { return provider.Block{Type: provider.TextBlock, Text: s} }

func user(bs ...provider.Block) provider.Message {
	return provider.Message{Role: provider.User, Content: bs}
}

func assistant(bs ...provider.Block) provider.Message {
	return provider.Message{Role: provider.Assistant, Content: bs}
}

var weather = provider.Tool{Name: "get_weather", Description: "Current weather in a city.", Schema: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`)}

func TestPrepare(t *testing.T) {
	tests := []struct {
		name    string
		caps    catalog.Capabilities
		strict  bool
		req     provider.Request
		want    provider.Request // the request the backend sees
		applied []string
		err     string
	}{
		{
			name: "nothing to adapt",
			caps: full,
			req:  provider.Request{System: []provider.Block{text("Be brief.")}, Messages: []provider.Message{user(text("hi"))}},
			want: provider.Request{System: []provider.Block{text("Be brief.")}, Messages: []provider.Message{user(text("hi"))}},
		},
		{
			name:    "system folded",
			caps:    without(func(c *catalog.Capabilities) { c.System = false }),
			req:     provider.Request{System: []provider.Block{text("Be brief.")}, Messages: []provider.Message{user(text("hi")), assistant(text("hello")), user(text("bye"))}},
			want:    provider.Request{Messages: []provider.Message{user(text("Be brief.\n\n"), text("hi")), assistant(text("hello")), user(text("bye"))}},
			applied: []string{adapt.SystemFolded},
		},
		{
			name:   "system strict",
			caps:   without(func(c *catalog.Capabilities) { c.System = false }),
			strict: true,
			req:    provider.Request{System: []provider.Block{text("Be brief.")}, Messages: []provider.Message{user(text("hi"))}},
			err:    "This model doesn't support system messages.",
		},
		{
			name: "system strict per request",
			caps: without(func(c *catalog.Capabilities) { c.System = false }),
			req:  provider.Request{System: []provider.Block{text("Be brief.")}, Messages: []provider.Message{user(text("hi"))}, Extra: json.RawMessage(`{"outcrop":{"strict":true}}`)},
			err:  "This model doesn't support system messages.",
		},
		{
			name: "own fields removed, others kept",
			caps: full,
			req:  provider.Request{Messages: []provider.Message{user(text("hi"))}, Extra: json.RawMessage(`{"outcrop":{"strict":true},"top_k":5}`)},
			want: provider.Request{Messages: []provider.Message{user(text("hi"))}, Extra: json.RawMessage(`{"top_k":5}`)},
		},
		{
			name: "bad own fields",
			caps: full,
			req:  provider.Request{Messages: []provider.Message{user(text("hi"))}, Extra: json.RawMessage(`{"outcrop":{"strikt":true}}`)},
			err:  `additionalModelRequestFields.outcrop must be an object like {"strict": true}.`,
		},
		{
			name: "documents as text",
			caps: without(func(c *catalog.Capabilities) { c.Documents = false }),
			req: provider.Request{Messages: []provider.Message{user(
				provider.Block{Type: provider.DocumentBlock, Document: &provider.Document{Format: "md", Name: "notes", Data: []byte("# Title\n\nSome *notes*.")}},
				provider.Block{Type: provider.DocumentBlock, Document: &provider.Document{Format: "csv", Name: "table", Data: []byte("a,b\n1,2\n")}},
				text("Summarise."))}},
			want: provider.Request{Messages: []provider.Message{user(
				text("Document \"notes\" (md):\nTitle\n\nSome notes.\n"),
				text("Document \"table\" (csv):\na: 1; b: 2\n"),
				text("Summarise."))}},
			applied: []string{adapt.DocumentsAsText},
		},
		{
			name: "pdf as text",
			caps: without(func(c *catalog.Capabilities) { c.Documents = false }),
			req: provider.Request{Messages: []provider.Message{user(
				provider.Block{Type: provider.DocumentBlock, Document: &provider.Document{Format: "pdf", Name: "report", Data: samplePDF}}, text("Summarise."))}},
			want: provider.Request{Messages: []provider.Message{user(
				text("Document \"report\" (pdf):\nSkerry Point Lighthouse\nThe lighthouse was lit in 1851 and its lamp burned whale oil.\n" +
					"In 1904 the keepers switched to paraffin (kerosene).\nThe tower is 38 metres tall and painted in red and white bands.\n" +
					"Left part of a line, right part of the same line.\n\nHoney Bees\n" +
					"A colony keeps one queen; workers forage within three kilometres.\nThey tell each other where flowers are with a waggle dance.\n"),
				text("Summarise."))}},
			applied: []string{adapt.DocumentsAsText},
		},
		{
			name: "malformed pdf",
			caps: without(func(c *catalog.Capabilities) { c.Documents = false }),
			req: provider.Request{Messages: []provider.Message{user(
				provider.Block{Type: provider.DocumentBlock, Document: &provider.Document{Format: "pdf", Name: "report", Data: []byte("%PDF-1.4")}}, text("Summarise."))}},
			err: `The pdf document "report" could not be read as text.`,
		},
		{
			name: "xlsx refused",
			caps: without(func(c *catalog.Capabilities) { c.Documents = false }),
			req: provider.Request{Messages: []provider.Message{user(
				provider.Block{Type: provider.DocumentBlock, Document: &provider.Document{Format: "xlsx", Name: "sheet", Data: []byte("PK")}}, text("Summarise."))}},
			err: "This model doesn't support documents, and Outcrop can't convert a xlsx document to text for it. Send pdf, txt, md, csv, html, json or docx inline, or use a model that supports documents.",
		},
		{
			name:   "documents strict",
			caps:   without(func(c *catalog.Capabilities) { c.Documents = false }),
			strict: true,
			req: provider.Request{Messages: []provider.Message{user(
				provider.Block{Type: provider.DocumentBlock, Document: &provider.Document{Format: "txt", Name: "a", Data: []byte("x")}}, text("?"))}},
			err: "This model doesn't support documents.",
		},
		{
			name: "images refused",
			caps: without(func(c *catalog.Capabilities) { c.Vision = false }),
			req:  provider.Request{Messages: []provider.Message{user(provider.Block{Type: provider.ImageBlock, Image: &provider.Image{Format: "png", Data: []byte{1}}}, text("?"))}},
			err:  "This model doesn't support images.",
		},
		{
			name: "tools prompted, history as text",
			caps: without(func(c *catalog.Capabilities) { c.Tools = false }),
			req: provider.Request{
				System: []provider.Block{text("Be brief.")},
				Tools:  []provider.Tool{weather}, ToolChoice: provider.ToolChoice{Mode: provider.ToolAny},
				Messages: []provider.Message{
					user(text("Weather in Paris?")),
					assistant(provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: "t1", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}}),
					user(provider.Block{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{ToolUseID: "t1", Content: []provider.Block{{Type: provider.JSONBlock, JSON: json.RawMessage(`{"temp":21}`)}}}}),
				},
			},
			want: provider.Request{
				System: []provider.Block{text("Be brief.\n\nYou can call these tools:\n- get_weather: Current weather in a city.\n" +
					"  input: city (string)\n" +
					`To call a tool, answer with only a JSON object {"tool": NAME, "input": {...}} whose input follows the tool's schema, and nothing else. For example: {"tool":"get_weather","input":{"city":"..."}} You must call one of the tools.`)},
				Messages: []provider.Message{
					user(text("Weather in Paris?")),
					assistant(text(`{"tool":"get_weather","input":{"city":"Paris"}}`)),
					user(text("Result of the call to tool get_weather:\n{\"temp\":21}")),
					// toolChoice any and a model that continues prefills:
					// its answer starts as a call.
					assistant(text(`{"tool": "`)),
				},
			},
			applied: []string{adapt.ToolsPrompted},
		},
		{
			name:   "tools strict",
			caps:   without(func(c *catalog.Capabilities) { c.Tools = false }),
			strict: true,
			req:    provider.Request{Tools: []provider.Tool{weather}, Messages: []provider.Message{user(text("?"))}},
			err:    "This model doesn't support tool use.",
		},
		{
			name: "tools prompted and system folded",
			caps: without(func(c *catalog.Capabilities) { c.Tools, c.System = false, false }),
			req:  provider.Request{Tools: []provider.Tool{{Name: "now"}}, Messages: []provider.Message{user(text("Time?"))}},
			want: provider.Request{Messages: []provider.Message{user(text("You can call these tools:\n- now\n"+
				`To call a tool, answer with only a JSON object {"tool": NAME, "input": {...}} whose input follows the tool's schema, and nothing else. For example: {"tool":"now","input":{}} Otherwise answer in plain text.`+"\n\n"), text("Time?"))}},
			applied: []string{adapt.ToolsPrompted, adapt.SystemFolded},
		},
		{
			name:    "prefill prompted",
			caps:    without(func(c *catalog.Capabilities) { c.Prefill = false }),
			req:     provider.Request{Messages: []provider.Message{user(text("Count to three.")), assistant(text("One,"))}},
			want:    provider.Request{Messages: []provider.Message{user(text("Count to three."), text("\n\nBegin your answer with exactly this text: One,"))}},
			applied: []string{adapt.PrefillPrompted},
		},
		{
			name:   "prefill strict",
			caps:   without(func(c *catalog.Capabilities) { c.Prefill = false }),
			strict: true,
			req:    provider.Request{Messages: []provider.Message{user(text("Count to three.")), assistant(text("One,"))}},
			err:    "This model doesn't support assistant message prefill.",
		},
		{
			name: "context window, counted",
			caps: without(func(c *catalog.Capabilities) { c.ContextWindow = 10 }),
			req:  provider.Request{MaxTokens: 5, Messages: []provider.Message{user(text("one two three four five six"))}},
			err:  "Input is too long for requested model. The prompt is 6 tokens (counted with the model's tokenizer) and maxTokens is 5: 11 tokens, more than the model's context window of 10.",
		},
		{
			name: "context window fits",
			caps: without(func(c *catalog.Capabilities) { c.ContextWindow = 11 }),
			req:  provider.Request{MaxTokens: 5, Messages: []provider.Message{user(text("one two three four five six"))}},
			want: provider.Request{MaxTokens: 5, Messages: []provider.Message{user(text("one two three four five six"))}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := clone(tt.req)
			c, err := adapt.Prepare(context.Background(), tt.caps, providertest.Echo{}, &tt.req, adapt.Options{Strict: tt.strict})
			if diff := cmp.Diff(before, tt.req, rawEq); diff != "" {
				t.Errorf("Prepare modified its argument (-before +after):\n%s", diff)
			}
			if tt.err != "" {
				if err == nil || fault.Message(err) != tt.err || fault.KindOf(err) != fault.Invalid {
					t.Fatalf("error = %v, want Invalid %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, *c.Request, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.applied, c.Applied, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("applied (-want +got):\n%s", diff)
			}
		})
	}
}

// rawEq compares JSON values by content; a JSON round trip turns nil into null.
var rawEq = cmp.Comparer(func(a, b json.RawMessage) bool {
	norm := func(r json.RawMessage) string {
		if string(r) == "null" {
			return ""
		}
		return string(r)
	}
	return norm(a) == norm(b)
})

func clone(r provider.Request) provider.Request {
	b, _ := json.Marshal(r)
	var out provider.Request
	_ = json.Unmarshal(b, &out)
	return out
}

// estimateOnly is a backend without a token counter.
type estimateOnly struct{ provider.Adapter }

// limited is a backend whose sessions hold only n tokens.
type limited struct {
	providertest.Echo
	n int
}

func (l limited) ContextTokens(string) int { return l.n }

// samplePDF is internal/kb/testdata/pdf/sample.pdf (written by its gen.py).
var samplePDF = func() []byte {
	b, err := os.ReadFile("testdata/sample.pdf")
	if err != nil {
		panic(err)
	}
	return b
}()

// TestDocumentsTruncated checks that documents converted to text are cut,
// each in proportion and saying so, until the prompt fits the context
// window: the catalog's, or the backend's when it reports a smaller one.
func TestDocumentsTruncated(t *testing.T) {
	noDocs := without(func(c *catalog.Capabilities) { c.Documents = false; c.ContextWindow = 400 })
	doc := func(name string, words int) provider.Block {
		return provider.Block{Type: provider.DocumentBlock, Document: &provider.Document{Format: "txt", Name: name, Data: []byte(strings.Repeat("word ", words))}}
	}
	tests := []struct {
		name    string
		backend provider.Adapter
		req     provider.Request
		window  int      // the limit the request must fit
		docs    []string // the documents' names, in order
		cut     bool
		err     string
	}{
		{name: "fits", backend: providertest.Echo{}, window: 400, docs: []string{"a"},
			req: provider.Request{MaxTokens: 50, Messages: []provider.Message{user(doc("a", 100), text("Summarise."))}}},
		{name: "counted", backend: providertest.Echo{}, window: 400, docs: []string{"a", "b"}, cut: true,
			req: provider.Request{MaxTokens: 50, Messages: []provider.Message{user(doc("a", 2000), doc("b", 500), text("Summarise."))}}},
		{name: "estimated", backend: estimateOnly{providertest.Echo{}}, window: 400, docs: []string{"a"}, cut: true,
			req: provider.Request{MaxTokens: 50, System: []provider.Block{text("Be brief.")}, Messages: []provider.Message{user(doc("a", 3000), text("Summarise."))}}},
		{name: "backend's window", backend: limited{n: 200}, window: 200, docs: []string{"a"}, cut: true,
			req: provider.Request{MaxTokens: 50, Messages: []provider.Message{user(doc("a", 300), text("Summarise."))}}},
		{name: "question alone too long", backend: providertest.Echo{},
			req: provider.Request{MaxTokens: 50, Messages: []provider.Message{user(doc("a", 100), text(strings.Repeat("why ", 400)))}},
			err: "Input is too long for requested model. The prompt is 503 tokens (counted with the model's tokenizer) and maxTokens is 50: 553 tokens, more than the model's context window of 400."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := adapt.Prepare(context.Background(), noDocs, tt.backend, &tt.req, adapt.Options{})
			if tt.err != "" {
				if fault.Message(err) != tt.err {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []string{adapt.DocumentsAsText}
			if tt.cut {
				want = append(want, adapt.DocumentsTruncated)
			}
			if diff := cmp.Diff(want, c.Applied); diff != "" {
				t.Errorf("applied (-want +got):\n%s", diff)
			}
			n := adapt.EstimateTokens(c.Request)
			if tc, ok := tt.backend.(provider.TokenCounter); ok {
				n, _ = tc.CountTokens(context.Background(), c.Request)
			}
			if n+tt.req.MaxTokens > tt.window || (tt.cut && n+tt.req.MaxTokens < tt.window*3/4) {
				t.Errorf("prompt is %d tokens with maxTokens %d, want it to fill most of %d", n, tt.req.MaxTokens, tt.window)
			}
			content := c.Request.Messages[0].Content
			for i, name := range tt.docs {
				got := content[i].Text
				if !strings.HasPrefix(got, "Document \""+name+"\" (txt):\nword word") {
					t.Errorf("document %s = %.60q…, want its text", name, got)
				}
				if marked := strings.Contains(got, "[Outcrop truncated this document to fit the model's context window: the first "); marked != tt.cut {
					t.Errorf("document %s marked as truncated = %v, want %v", name, marked, tt.cut)
				}
			}
			if got := content[len(content)-1].Text; got != "Summarise." {
				t.Errorf("question = %q, want it unchanged", got)
			}
		})
	}
}

func TestContextWindowEstimate(t *testing.T) {
	caps := without(func(c *catalog.Capabilities) { c.ContextWindow = 100 })
	req := &provider.Request{MaxTokens: 90, Messages: []provider.Message{user(text(strings.Repeat("abcd", 20)))}}
	_, err := adapt.Prepare(context.Background(), caps, estimateOnly{providertest.Echo{}}, req, adapt.Options{})
	want := "Input is too long for requested model. The prompt is 20 tokens (estimated at 4 characters a token) and maxTokens is 90: 110 tokens, more than the model's context window of 100."
	if fault.Message(err) != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
}

// TestAnswers runs adapted requests on the echo backend, which answers with
// the last user turn, and checks how the answers are read back.
func TestAnswers(t *testing.T) {
	noTools := without(func(c *catalog.Capabilities) { c.Tools = false })
	tests := []struct {
		name string
		caps catalog.Capabilities
		req  provider.Request
		want provider.Response
	}{
		{
			name: "tool call",
			caps: noTools,
			req:  provider.Request{Tools: []provider.Tool{weather}, Messages: []provider.Message{user(text(`{"tool": "get_weather", "input": {"city": "Paris"}}`))}},
			want: provider.Response{StopReason: provider.ToolUseStop, Message: provider.Message{Role: provider.Assistant, Content: []provider.Block{
				{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}}}}},
		},
		{
			name: "tool call in a fence after text, name/arguments spelling",
			caps: noTools,
			req:  provider.Request{Tools: []provider.Tool{weather}, Messages: []provider.Message{user(text("Sure. ```json {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}} ```"))}},
			want: provider.Response{StopReason: provider.ToolUseStop, Message: provider.Message{Role: provider.Assistant, Content: []provider.Block{
				text("Sure."),
				{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{Name: "get_weather", Input: json.RawMessage(`{"city":"Oslo"}`)}}}}},
		},
		{
			name: "tool call forced by prefill (toolChoice any)",
			caps: noTools,
			// Echo answers with the user turn; a model continues the prefill.
			req: provider.Request{Tools: []provider.Tool{weather}, ToolChoice: provider.ToolChoice{Mode: provider.ToolAny},
				Messages: []provider.Message{user(text(`get_weather", "input": {"city": "Rome"}}`))}},
			want: provider.Response{StopReason: provider.ToolUseStop, Message: provider.Message{Role: provider.Assistant, Content: []provider.Block{
				{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{Name: "get_weather", Input: json.RawMessage(`{"city":"Rome"}`)}}}}},
		},
		{
			name: "unknown tool stays text",
			caps: noTools,
			req:  provider.Request{Tools: []provider.Tool{weather}, Messages: []provider.Message{user(text(`{"tool": "launch", "input": {}}`))}},
			want: provider.Response{StopReason: provider.EndTurn, Message: provider.Message{Role: provider.Assistant, Content: []provider.Block{text(`{"tool": "launch", "input": {}}`)}}},
		},
		{
			name: "plain answer",
			caps: noTools,
			req:  provider.Request{Tools: []provider.Tool{weather}, Messages: []provider.Message{user(text("It is sunny."))}},
			want: provider.Response{StopReason: provider.EndTurn, Message: provider.Message{Role: provider.Assistant, Content: []provider.Block{text("It is sunny.")}}},
		},
		{
			name: "prefill not repeated",
			caps: without(func(c *catalog.Capabilities) { c.Prefill = false }),
			// Echo repeats the whole user turn, instruction included; the
			// prefill is dropped only where the answer starts with it.
			req:  provider.Request{Messages: []provider.Message{user(text("One, two, three.")), assistant(text("One,"))}},
			want: provider.Response{StopReason: provider.EndTurn, Message: provider.Message{Role: provider.Assistant, Content: []provider.Block{text(" two, three. Begin your answer with exactly this text: One,")}}},
		},
	}
	ignore := cmp.Options{cmpopts.IgnoreFields(provider.ToolUse{}, "ID"), cmpopts.IgnoreFields(provider.Response{}, "Usage"), cmpopts.EquateEmpty()}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := adapt.Prepare(context.Background(), tt.caps, providertest.Echo{}, &tt.req, adapt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Adapter.Converse(context.Background(), c.Request)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, *got, ignore); diff != "" {
				t.Errorf("Converse (-want +got):\n%s", diff)
			}
			for _, b := range got.Message.Content {
				if b.ToolUse != nil && !strings.HasPrefix(b.ToolUse.ID, "tooluse_") {
					t.Errorf("tool use ID %q", b.ToolUse.ID)
				}
			}
			// The stream carries the same answer.
			var streamed provider.Response
			var text strings.Builder
			err = c.Adapter.ConverseStream(context.Background(), c.Request, func(ev provider.Event) error {
				switch ev.Type {
				case provider.TextDeltaEvent:
					text.WriteString(ev.Text)
				case provider.BlockStartEvent:
					streamed.Message.Content = append(streamed.Message.Content, provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{Name: ev.ToolUse.Name}})
				case provider.ToolInputDeltaEvent:
					tu := streamed.Message.Content[len(streamed.Message.Content)-1].ToolUse
					tu.Input = append(tu.Input, ev.Text...)
				case provider.MessageStopEvent:
					streamed.StopReason = ev.StopReason
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if text.Len() > 0 {
				streamed.Message.Content = append([]provider.Block{{Type: provider.TextBlock, Text: text.String()}}, streamed.Message.Content...)
			}
			streamed.Message.Role = provider.Assistant
			if diff := cmp.Diff(tt.want, streamed, ignore); diff != "" {
				t.Errorf("ConverseStream (-want +got):\n%s", diff)
			}
		})
	}
}

func TestToolPromptFields(t *testing.T) {
	tools := []provider.Tool{
		{Name: "search", Schema: json.RawMessage(`{"type":"object","properties":{"q":{"type":"string","description":"words"},"n":{"type":"integer"}},"required":["q"]}`)},
		{Name: "nested", Schema: json.RawMessage(`{"type":"object","properties":{"f":{"type":"object","properties":{}}}}`)},
	}
	c, err := adapt.Prepare(context.Background(), without(func(c *catalog.Capabilities) { c.Tools = false }), providertest.Echo{},
		&provider.Request{Tools: tools, Messages: []provider.Message{user(text("?"))}}, adapt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := provider.TextOf(c.Request.System)
	for _, want := range []string{
		"- search\n  input: n (integer); q (string, required): words\n",
		`- nested` + "\n" + `  input: JSON schema {"type":"object","properties":{"f":{"type":"object","properties":{}}}}`,
		`For example: {"tool":"search","input":{"n":"...","q":"..."}}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("tool prompt lacks %q:\n%s", want, got)
		}
	}
}

func TestResponseFields(t *testing.T) {
	if got := adapt.ResponseFields(nil); got != nil {
		t.Errorf("ResponseFields(nil) = %s", got)
	}
	got := string(adapt.ResponseFields([]string{adapt.SystemFolded, adapt.ToolsPrompted}))
	if want := `{"outcrop":{"adaptations":["system-folded","tools-prompted"]}}`; got != want {
		t.Errorf("ResponseFields = %s, want %s", got, want)
	}
}

// chatModel is a backend that serves its models as chat models.
type chatModel struct{ providertest.Echo }

func (chatModel) TemplatesChat(context.Context, string) bool { return true }

func TestPromptAsChat(t *testing.T) {
	hello := &provider.Conversation{Messages: []provider.Message{user(text("Say hello."))}}
	formatted := &provider.Conversation{System: []provider.Block{text("Be brief.")},
		Messages: []provider.Message{user(text("Count to three.")), assistant(text("One,"))}}
	raw := func(prompt string, c *provider.Conversation) provider.Request {
		return provider.Request{Raw: true, Prompt: prompt, PromptChat: c, MaxTokens: 50}
	}
	tests := []struct {
		name    string
		backend provider.Adapter
		caps    catalog.Capabilities
		strict  bool
		req     provider.Request
		want    provider.Request
		applied []string
	}{
		{
			name:    "plain instruction",
			backend: chatModel{}, caps: full,
			req:     raw("Say hello.", hello),
			want:    provider.Request{Messages: []provider.Message{user(text("Say hello."))}, MaxTokens: 50},
			applied: []string{adapt.PromptAsChat},
		},
		{
			name:    "formatted with a prefill",
			backend: chatModel{}, caps: full,
			req:     raw("<s>...", formatted),
			want:    provider.Request{System: []provider.Block{text("Be brief.")}, Messages: []provider.Message{user(text("Count to three.")), assistant(text("One,"))}, MaxTokens: 50},
			applied: []string{adapt.PromptAsChat},
		},
		{
			name:    "later adaptations apply to the turns",
			backend: chatModel{}, caps: without(func(c *catalog.Capabilities) { c.System, c.Prefill = false, false }),
			req:     raw("<s>...", formatted),
			want: provider.Request{Messages: []provider.Message{user(text("Be brief.\n\n"), text("Count to three."), text("\n\nBegin your answer with exactly this text: One,"))},
				MaxTokens: 50},
			applied: []string{adapt.PromptAsChat, adapt.SystemFolded, adapt.PrefillPrompted},
		},
		{
			name:    "strict keeps the prompt verbatim",
			backend: chatModel{}, caps: full, strict: true,
			req:  raw("Say hello.", hello),
			want: raw("Say hello.", hello),
		},
		{
			name:    "a backend that continues text",
			backend: providertest.Echo{}, caps: full,
			req:  raw("Say hello.", hello),
			want: raw("Say hello.", hello),
		},
		{
			name:    "a prompt to continue",
			backend: chatModel{}, caps: full,
			req:  raw("Once upon a time", nil),
			want: raw("Once upon a time", nil),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := clone(tt.req)
			c, err := adapt.Prepare(context.Background(), tt.caps, tt.backend, &tt.req, adapt.Options{Strict: tt.strict})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, tt.req, rawEq); diff != "" {
				t.Errorf("Prepare modified its argument (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, *c.Request, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.applied, c.Applied, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("applied (-want +got):\n%s", diff)
			}
		})
	}
}
