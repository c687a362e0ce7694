// Package adapt makes a canonical chat request fit the model that serves it
// (docs/compatibility.md). Where the model, as its catalog capabilities
// describe it, lacks something the request uses and a faithful adaptation
// exists, Prepare rewrites the request — a raw prompt given to a chat model
// as the turns it was written as, the system prompt folded into the
// first user turn, documents converted to text, tools offered through a
// constrained-JSON prompt, an assistant prefill turned into an instruction
// — and wraps the backend so that its answers are read back accordingly
// (a JSON reply becomes a toolUse block, the prefill is not repeated). Every
// adaptation is reported by name so the caller can tell its client. In
// strict mode Prepare refuses instead, with Bedrock's own messages.
//
// Before the backend is called, Prepare checks the context window.
package adapt

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/provider"
)

// Adaptation names, as reported to callers.
const (
	// PromptAsChat: a raw text-completion prompt was given to a chat model
	// as chat turns (provider.Request.PromptChat), which the backend
	// renders with the model's own template, instead of verbatim.
	PromptAsChat    = "prompt-as-chat"
	SystemFolded    = "system-folded"
	DocumentsAsText = "documents-as-text"
	// DocumentsTruncated: documents converted to text were cut short so
	// that the prompt fits the model's context window.
	DocumentsTruncated = "documents-truncated"
	ToolsPrompted      = "tools-prompted"
	PrefillPrompted    = "prefill-prompted"
	// ToolCallConstrained: a required tool call was decoded under a JSON
	// schema (the backend constrains its output), so the reply is a call.
	ToolCallConstrained = "tool-call-constrained"
)

// Bedrock's messages for models that lack a feature, returned in strict
// mode and where no adaptation exists.
const (
	ErrSystem    = "This model doesn't support system messages."
	ErrTools     = "This model doesn't support tool use."
	ErrImages    = "This model doesn't support images."
	ErrDocuments = "This model doesn't support documents."
	ErrPrefill   = "This model doesn't support assistant message prefill."
)

// Header names the HTTP response header that lists the adaptations made,
// comma-separated, and StrictHeader the request header that asks for
// strict mode ("true").
const (
	Header       = "x-outcrop-adaptations"
	StrictHeader = "x-outcrop-strict"
)

// Options tunes Prepare.
type Options struct {
	// Strict refuses what the model lacks instead of adapting. A request
	// can also ask for it with additionalModelRequestFields
	// {"outcrop": {"strict": true}}.
	Strict bool
}

// Call is a prepared call: run Request on Adapter.
type Call struct {
	Adapter provider.Adapter
	Request *provider.Request
	// Applied lists the adaptations made, in order; empty if none.
	Applied []string
}

// Prepare adapts req to a model with capabilities caps served by a. It
// never modifies req. The "outcrop" member of req.Extra is Outcrop's own
// and is removed before the backend sees it.
func Prepare(ctx context.Context, caps catalog.Capabilities, a provider.Adapter, req *provider.Request, opts Options) (*Call, error) {
	r := *req
	extra, strict, err := ownFields(req.Extra)
	if err != nil {
		return nil, err
	}
	r.Extra = extra
	strict = strict || opts.Strict
	// r shares req's turns until an adaptation rewrites them: own copies
	// them first, so that req is never modified and a request that needs
	// no adaptation costs no copy.
	owned := false
	own := func() {
		if !owned {
			owned = true
			r.Messages = cloneMessages(r.Messages)
			r.System = append([]provider.Block(nil), r.System...)
		}
	}
	w := wrapped{inner: a}
	var applied []string
	var docs []converted
	note := func(name string) { applied = append(applied, name) }

	// A raw prompt goes verbatim to a backend that continues text, and in
	// strict mode, as Bedrock sends it to its model: Bedrock accepts the
	// body, so strict mode does not refuse it.
	if r.Raw && r.PromptChat != nil && !strict && provider.TemplatesChat(ctx, a, r.Model) {
		promptAsChat(&r)
		owned = true // promptAsChat made the turns anew
		note(PromptAsChat)
	}
	if !caps.Vision && uses(r.Messages, provider.ImageBlock) {
		return nil, fault.New(fault.Invalid, ErrImages)
	}
	if !caps.Documents && uses(r.Messages, provider.DocumentBlock) {
		if strict {
			return nil, fault.New(fault.Invalid, ErrDocuments)
		}
		own()
		if docs, err = documentsAsText(r.Messages); err != nil {
			return nil, err
		}
		note(DocumentsAsText)
	}
	if !caps.Tools && (len(r.Tools) > 0 || uses(r.Messages, provider.ToolUseBlock) || uses(r.Messages, provider.ToolResultBlock)) {
		if strict {
			return nil, fault.New(fault.Invalid, ErrTools)
		}
		own()
		choice := r.ToolChoice
		w.tools = promptTools(&r)
		note(ToolsPrompted)
		if constrainCall(&r, a, choice, w.tools) {
			note(ToolCallConstrained)
		} else {
			w.forced = forceCall(&r, caps, choice, w.tools)
		}
	}
	if !caps.System && len(r.System) > 0 {
		if strict {
			return nil, fault.New(fault.Invalid, ErrSystem)
		}
		own()
		foldSystem(&r)
		note(SystemFolded)
	}
	if !caps.Prefill && len(r.Messages) > 1 && r.Messages[len(r.Messages)-1].Role == provider.Assistant {
		if strict {
			return nil, fault.New(fault.Invalid, ErrPrefill)
		}
		own()
		p, err := promptPrefill(&r)
		if err != nil {
			return nil, err
		}
		w.prefill = p
		note(PrefillPrompted)
	}
	if len(docs) > 0 {
		own() // fitDocuments cuts the converted documents (already owned)
	}
	if fitDocuments(ctx, caps, a, &r, docs) {
		note(DocumentsTruncated)
	}
	if err := checkWindow(ctx, caps, a, &r); err != nil {
		return nil, err
	}
	c := &Call{Adapter: a, Request: &r, Applied: applied}
	if w.tools != nil || w.prefill != "" || w.forced != "" {
		wa := w
		c.Adapter = &wa
	}
	return c, nil
}

// ResponseFields is what Converse returns in additionalModelResponseFields
// when adaptations were made: {"outcrop": {"adaptations": [...]}}.
func ResponseFields(applied []string) json.RawMessage {
	if len(applied) == 0 {
		return nil
	}
	b, _ := json.Marshal(map[string]any{"outcrop": map[string]any{"adaptations": applied}})
	return b
}

// ownFields removes the "outcrop" member from additionalModelRequestFields
// and reads its options.
func ownFields(extra json.RawMessage) (json.RawMessage, bool, error) {
	if len(bytes.TrimSpace(extra)) == 0 || !bytes.Contains(extra, []byte(`"outcrop"`)) {
		return extra, false, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(extra, &m); err != nil {
		return extra, false, nil // not an object: the backend's business
	}
	own, ok := m["outcrop"]
	if !ok {
		return extra, false, nil
	}
	var o struct {
		Strict bool `json:"strict"`
	}
	dec := json.NewDecoder(bytes.NewReader(own))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return nil, false, fault.New(fault.Invalid, `additionalModelRequestFields.outcrop must be an object like {"strict": true}.`)
	}
	delete(m, "outcrop")
	if len(m) == 0 {
		return nil, o.Strict, nil
	}
	b, _ := json.Marshal(m)
	return b, o.Strict, nil
}

func cloneMessages(ms []provider.Message) []provider.Message {
	out := make([]provider.Message, len(ms))
	for i, m := range ms {
		out[i] = provider.Message{Role: m.Role, Content: append([]provider.Block(nil), m.Content...)}
	}
	return out
}

func uses(ms []provider.Message, t provider.BlockType) bool {
	for _, m := range ms {
		for _, b := range m.Content {
			if b.Type == t {
				return true
			}
		}
	}
	return false
}

// promptAsChat replaces r's raw prompt by the turns it was read as.
func promptAsChat(r *provider.Request) {
	c := r.PromptChat
	r.Raw, r.Prompt, r.PromptChat = false, "", nil
	r.System = append([]provider.Block(nil), c.System...)
	r.Messages = cloneMessages(c.Messages)
}

// foldSystem prepends the system prompt to the first user turn.
func foldSystem(r *provider.Request) {
	sys := strings.TrimSpace(provider.TextOf(r.System))
	r.System = nil
	for i := range r.Messages {
		if r.Messages[i].Role == provider.User {
			c := r.Messages[i].Content
			r.Messages[i].Content = append([]provider.Block{{Type: provider.TextBlock, Text: sys + "\n\n"}}, c...)
			return
		}
	}
	r.Messages = append([]provider.Message{{Role: provider.User, Content: []provider.Block{{Type: provider.TextBlock, Text: sys}}}}, r.Messages...)
}

// textFormats are the document formats read as text, by the
// knowledge-base parsers (kb.Parse). The binary Office formats (doc, xls,
// xlsx) have no vetted pure-Go extractor among our dependencies.
var textFormats = map[string]bool{"txt": true, "md": true, "csv": true, "html": true, "json": true, "docx": true, "pdf": true}

// converted is a document that documentsAsText replaced by a text block:
// the text it was read as and the block's current text, by which the block
// is found again once later adaptations have moved it.
type converted struct {
	name, format string
	text         string
	cur          string
}

// documentsAsText replaces each document block by a text block and
// returns what it replaced.
func documentsAsText(ms []provider.Message) ([]converted, error) {
	var docs []converted
	for i := range ms {
		for j, b := range ms[i].Content {
			if b.Type != provider.DocumentBlock {
				continue
			}
			d := b.Document
			text := d.Text
			if text == "" {
				if d.URI != "" || !textFormats[d.Format] {
					return nil, fault.Newf(fault.Invalid, "This model doesn't support documents, and Outcrop can't convert a %s document to text for it. Send pdf, txt, md, csv, html, json or docx inline, or use a model that supports documents.", docFormat(d))
				}
				t, err := kb.Parse("document."+d.Format, "", d.Data)
				if err != nil {
					return nil, fault.Newf(fault.Invalid, "The %s document %q could not be read as text.", d.Format, d.Name)
				}
				text = t
			}
			c := converted{name: d.Name, format: d.Format, text: strings.TrimSpace(text)}
			ms[i].Content[j] = c.render(len(c.text))
			c.cur = ms[i].Content[j].Text
			docs = append(docs, c)
		}
	}
	return docs, nil
}

// render renders the first n characters (bytes, backed off to a rune
// boundary) of the document as a text block, saying so when n is short.
func (c converted) render(n int) provider.Block {
	head := "Document \"" + c.name + "\" (" + c.format + "):\n"
	if n >= len(c.text) {
		return provider.Block{Type: provider.TextBlock, Text: head + c.text + "\n"}
	}
	for n > 0 && !utf8.RuneStart(c.text[n]) {
		n--
	}
	return provider.Block{Type: provider.TextBlock, Text: fmt.Sprintf("%s%s\n[Outcrop truncated this document to fit the model's context window: the first %d of %d characters.]\n",
		head, c.text[:n], utf8.RuneCountInString(c.text[:n]), utf8.RuneCountInString(c.text))}
}

// fitDocuments shortens the documents that documentsAsText converted,
// each in the same proportion, until r's prompt and maxTokens fit the
// model's context window (or the backend's, when a provider.ContextLimiter
// reports a smaller one), and reports whether it shortened any. It leaves
// r alone when it already fits, or when the rest of the prompt alone does
// not (checkWindow then refuses it). Sizes are counted with the backend's
// tokenizer when it has one, else estimated.
func fitDocuments(ctx context.Context, caps catalog.Capabilities, a provider.Adapter, r *provider.Request, docs []converted) bool {
	window := caps.ContextWindow
	if cl, ok := a.(provider.ContextLimiter); ok {
		if n := cl.ContextTokens(r.Model); n > 0 && (window <= 0 || n < window) {
			window = n
		}
	}
	if len(docs) == 0 || window <= 0 || 2*EstimateTokens(r)+r.MaxTokens <= window {
		return false
	}
	total := 0
	for _, d := range docs {
		total += len(d.text)
	}
	keep := total // bytes of document text kept
	for range 4 {
		n := promptTokens(ctx, a, r)
		over := n + r.MaxTokens - window
		if over <= 0 {
			return keep < total
		}
		// Cut the tokens over the limit, at the prompt's own bytes per
		// token, aiming a twentieth of the prompt's budget lower for the
		// error of that rate.
		perToken := float64(requestBytes(r)) / float64(n)
		keep -= int(float64(over+(window-r.MaxTokens)/20)*perToken) + 1
		if keep <= 0 {
			for i := range docs {
				docs[i].cut(r, len(docs[i].text))
			}
			return false
		}
		for i := range docs {
			docs[i].cut(r, int(int64(len(docs[i].text))*int64(keep)/int64(total)))
		}
	}
	return keep < total
}

// cut replaces the document's block in r by its first n bytes.
func (c *converted) cut(r *provider.Request, n int) {
	b := c.render(n)
	for i := range r.Messages {
		for j, old := range r.Messages[i].Content {
			if old.Type == provider.TextBlock && old.Text == c.cur {
				r.Messages[i].Content[j], c.cur = b, b.Text
				return
			}
		}
	}
}

// promptTokens counts r's prompt with the backend's tokenizer, or
// estimates it.
func promptTokens(ctx context.Context, a provider.Adapter, r *provider.Request) int {
	if tc, ok := a.(provider.TokenCounter); ok {
		if n, err := tc.CountTokens(ctx, r); err == nil && n > 0 {
			return n
		}
	}
	return EstimateTokens(r)
}

// requestBytes is the size of r's text, the measure EstimateTokens
// counts in characters.
func requestBytes(r *provider.Request) int {
	n := len(r.Prompt) + len(provider.TextOf(r.System))
	for _, m := range r.Messages {
		n += len(provider.TextOf(m.Content))
	}
	return max(n, 1)
}

func docFormat(d *provider.Document) string {
	if d.URI != "" {
		return "by-reference (" + d.Format + ")"
	}
	return d.Format
}

// promptTools describes r's tools in its system prompt, rewrites tool use
// and results in the history as text, and returns the tools to read the
// reply against.
func promptTools(r *provider.Request) []provider.Tool {
	tools, choice := r.Tools, r.ToolChoice
	names := map[string]string{} // toolUseId → name
	for i := range r.Messages {
		for j, b := range r.Messages[i].Content {
			switch b.Type {
			case provider.ToolUseBlock:
				names[b.ToolUse.ID] = b.ToolUse.Name
				r.Messages[i].Content[j] = provider.Block{Type: provider.TextBlock, Text: toolCallJSON(b.ToolUse.Name, b.ToolUse.Input)}
			case provider.ToolResultBlock:
				tr := b.ToolResult
				var sb strings.Builder
				sb.WriteString("Result of the call to tool " + names[tr.ToolUseID])
				if tr.Status == "error" {
					sb.WriteString(" (an error)")
				}
				sb.WriteString(":\n")
				for _, c := range tr.Content {
					switch c.Type {
					case provider.TextBlock:
						sb.WriteString(c.Text)
					case provider.JSONBlock:
						sb.Write(c.JSON)
					}
				}
				r.Messages[i].Content[j] = provider.Block{Type: provider.TextBlock, Text: sb.String()}
			}
		}
	}
	r.Tools, r.ToolChoice = nil, provider.ToolChoice{}
	if len(tools) == 0 {
		return nil
	}
	var sb strings.Builder
	sb.WriteString("You can call these tools:\n")
	for _, t := range tools {
		sb.WriteString("- " + t.Name)
		if t.Description != "" {
			sb.WriteString(": " + t.Description)
		}
		if f := fields(t.Schema); f != "" {
			sb.WriteString("\n  input: " + f)
		}
		sb.WriteString("\n")
	}
	sb.WriteString(`To call a tool, answer with only a JSON object {"tool": NAME, "input": {...}} whose input follows the tool's schema, and nothing else.`)
	sb.WriteString(" For example: " + example(tools[0]))
	switch choice.Mode {
	case provider.ToolAny:
		sb.WriteString(" You must call one of the tools.")
	case provider.ToolOne:
		sb.WriteString(" You must call the tool " + choice.Name + ".")
	default:
		sb.WriteString(" Otherwise answer in plain text.")
	}
	prompt := sb.String()
	if s := strings.TrimSpace(provider.TextOf(r.System)); s != "" {
		prompt = s + "\n\n" + prompt
	}
	r.System = []provider.Block{{Type: provider.TextBlock, Text: prompt}}
	return tools
}

// fields describes the input of a tool from its JSON Schema: each property
// with its type, and whether it is required; a schema with nested objects
// is given whole.
func fields(schema json.RawMessage) string {
	var s struct {
		Properties map[string]struct {
			Type        any    `json:"type"`
			Description string `json:"description"`
			Properties  any    `json:"properties"`
			Items       any    `json:"items"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	if len(schema) == 0 || json.Unmarshal(schema, &s) != nil {
		return ""
	}
	names := make([]string, 0, len(s.Properties))
	for k, p := range s.Properties {
		if p.Properties != nil || p.Items != nil {
			var compact bytes.Buffer
			_ = json.Compact(&compact, schema)
			return "JSON schema " + compact.String()
		}
		names = append(names, k)
	}
	sort.Strings(names)
	var out []string
	for _, k := range names {
		p := s.Properties[k]
		f := fmt.Sprintf("%s (%v", k, p.Type)
		if slices.Contains(s.Required, k) {
			f += ", required"
		}
		f += ")"
		if p.Description != "" {
			f += ": " + p.Description
		}
		out = append(out, f)
	}
	return strings.Join(out, "; ")
}

// example shows a call of t, with "..." for each property of its schema.
func example(t provider.Tool) string {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	_ = json.Unmarshal(t.Schema, &s)
	in := map[string]string{}
	for k := range s.Properties {
		in[k] = "..."
	}
	b, _ := json.Marshal(in) // sorted keys
	return toolCallJSON(t.Name, b)
}

func toolCallJSON(name string, input json.RawMessage) string {
	if len(input) == 0 {
		input = json.RawMessage(`{}`)
	}
	b, _ := json.Marshal(struct {
		Tool  string          `json:"tool"`
		Input json.RawMessage `json:"input"`
	}{name, input})
	return string(b)
}

// constrainCall, when the caller requires a tool call (toolChoice any or
// tool) and the backend constrains its output to a JSON schema, asks for
// the reply as {"tool": NAME, "input": {...}}: NAME one of the tools (or
// the required one), and input following that tool's schema when only one
// tool can be called (any object otherwise). It reports whether it did.
func constrainCall(r *provider.Request, a provider.Adapter, choice provider.ToolChoice, tools []provider.Tool) bool {
	if r.Format != nil || len(tools) == 0 || !provider.FormatsOutput(a) {
		return false
	}
	var names []string
	switch choice.Mode {
	case provider.ToolAny:
		for _, t := range tools {
			names = append(names, t.Name)
		}
	case provider.ToolOne:
		names = []string{choice.Name}
	default:
		return false
	}
	input := json.RawMessage(`{"type":"object"}`)
	if len(names) == 1 {
		for _, t := range tools {
			if t.Name == names[0] && len(t.Schema) > 0 {
				input = t.Schema
			}
		}
	}
	schema, err := json.Marshal(map[string]any{
		"type": "object",
		"properties": map[string]any{
			"tool":  map[string]any{"enum": names},
			"input": input,
		},
		"required":             []string{"tool", "input"},
		"additionalProperties": false,
	})
	if err != nil {
		return false
	}
	r.Format = &provider.OutputFormat{Type: provider.JSONSchema, Name: "tool_call", Schema: schema}
	return true
}

// forceCall starts the model's answer with a tool call, as a prefill, when
// the caller requires one (toolChoice any or tool) and the model continues
// prefills: small models follow that far better than an instruction. It
// returns the text prefilled.
func forceCall(r *provider.Request, caps catalog.Capabilities, choice provider.ToolChoice, tools []provider.Tool) string {
	if !caps.Prefill || len(tools) == 0 || len(r.Messages) == 0 || r.Messages[len(r.Messages)-1].Role != provider.User {
		return ""
	}
	var start string
	switch choice.Mode {
	case provider.ToolAny:
		start = `{"tool": "`
	case provider.ToolOne:
		start = `{"tool": "` + choice.Name + `", "input": `
	default:
		return ""
	}
	r.Messages = append(r.Messages, provider.Message{Role: provider.Assistant, Content: []provider.Block{{Type: provider.TextBlock, Text: start}}})
	return start
}

// promptPrefill turns a final assistant turn into an instruction in the
// user turn before it and returns the prefill text.
func promptPrefill(r *provider.Request) (string, error) {
	last := r.Messages[len(r.Messages)-1]
	for _, b := range last.Content {
		if b.Type != provider.TextBlock {
			return "", fault.New(fault.Invalid, ErrPrefill+" Outcrop can continue only a text prefill for it.")
		}
	}
	prefill := provider.TextOf(last.Content)
	r.Messages = r.Messages[:len(r.Messages)-1]
	u := &r.Messages[len(r.Messages)-1]
	u.Content = append(u.Content, provider.Block{Type: provider.TextBlock, Text: "\n\nBegin your answer with exactly this text: " + prefill})
	return prefill, nil
}

// checkWindow refuses a request whose prompt and maxTokens exceed the
// model's context window. It estimates first and asks the backend's
// tokenizer only when the estimate comes near the limit.
func checkWindow(ctx context.Context, caps catalog.Capabilities, a provider.Adapter, r *provider.Request) error {
	if caps.ContextWindow <= 0 {
		return nil
	}
	n, how := EstimateTokens(r), "estimated at 4 characters a token"
	if 2*n+r.MaxTokens <= caps.ContextWindow {
		return nil
	}
	if tc, ok := a.(provider.TokenCounter); ok {
		if c, err := tc.CountTokens(ctx, r); err == nil {
			n, how = c, "counted with the model's tokenizer"
		}
	}
	if n+r.MaxTokens <= caps.ContextWindow {
		return nil
	}
	return fault.Newf(fault.Invalid, "Input is too long for requested model. The prompt is %d tokens (%s) and maxTokens is %d: %d tokens, more than the model's context window of %d.",
		n, how, r.MaxTokens, n+r.MaxTokens, caps.ContextWindow)
}

// EstimateTokens approximates the prompt's size at four characters a token.
func EstimateTokens(r *provider.Request) int {
	chars := utf8.RuneCountInString(r.Prompt) + utf8.RuneCountInString(provider.TextOf(r.System))
	for _, m := range r.Messages {
		for _, b := range m.Content {
			switch b.Type {
			case provider.TextBlock:
				chars += utf8.RuneCountInString(b.Text)
			case provider.ToolUseBlock:
				chars += len(b.ToolUse.Name) + len(b.ToolUse.Input)
			case provider.ToolResultBlock:
				for _, c := range b.ToolResult.Content {
					chars += utf8.RuneCountInString(c.Text) + len(c.JSON)
				}
			case provider.DocumentBlock:
				chars += utf8.RuneCountInString(b.Document.Text) + len(b.Document.Data)
			}
		}
	}
	for _, t := range r.Tools {
		chars += len(t.Name) + len(t.Description) + len(t.Schema)
	}
	return max(1, (chars+3)/4)
}

// wrapped reads a backend's answers back through the adaptations made.
type wrapped struct {
	inner   provider.Adapter
	tools   []provider.Tool
	prefill string
	forced  string // the start of a tool call prefilled for the model
}

func (w *wrapped) Converse(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	resp, err := w.inner.Converse(ctx, req)
	if err != nil {
		return nil, err
	}
	w.read(resp)
	return resp, nil
}

// ConverseStream collects the backend's stream and replays the adapted
// answer: a tool call can be recognised only once the reply is complete.
func (w *wrapped) ConverseStream(ctx context.Context, req *provider.Request, emit func(provider.Event) error) error {
	resp := &provider.Response{Message: provider.Message{Role: provider.Assistant}}
	var text strings.Builder
	var tools []provider.Block
	err := w.inner.ConverseStream(ctx, req, func(ev provider.Event) error {
		switch ev.Type {
		case provider.TextDeltaEvent:
			text.WriteString(ev.Text)
		case provider.BlockStartEvent:
			if ev.ToolUse != nil {
				tools = append(tools, provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: ev.ToolUse.ID, Name: ev.ToolUse.Name}})
			}
		case provider.ToolInputDeltaEvent:
			if len(tools) > 0 {
				tu := tools[len(tools)-1].ToolUse
				tu.Input = append(tu.Input, ev.Text...)
			}
		case provider.MessageStopEvent:
			resp.StopReason, resp.StopSequence = ev.StopReason, ev.StopSequence
		case provider.MetadataEvent:
			resp.Usage = ev.Usage
		}
		return nil
	})
	if err != nil {
		return err
	}
	if text.Len() > 0 {
		resp.Message.Content = []provider.Block{{Type: provider.TextBlock, Text: text.String()}}
	}
	resp.Message.Content = append(resp.Message.Content, tools...)
	w.read(resp)
	return Replay(resp, emit)
}

// Replay emits resp as a stream of events.
func Replay(resp *provider.Response, emit func(provider.Event) error) error {
	evs := []provider.Event{{Type: provider.MessageStartEvent}}
	for i, b := range resp.Message.Content {
		switch b.Type {
		case provider.TextBlock:
			evs = append(evs, provider.Event{Type: provider.TextDeltaEvent, Index: i, Text: b.Text})
		case provider.ToolUseBlock:
			evs = append(evs,
				provider.Event{Type: provider.BlockStartEvent, Index: i, ToolUse: &provider.ToolUse{ID: b.ToolUse.ID, Name: b.ToolUse.Name}},
				provider.Event{Type: provider.ToolInputDeltaEvent, Index: i, Text: string(b.ToolUse.Input)})
		default:
			continue
		}
		evs = append(evs, provider.Event{Type: provider.BlockStopEvent, Index: i})
	}
	evs = append(evs,
		provider.Event{Type: provider.MessageStopEvent, StopReason: resp.StopReason, StopSequence: resp.StopSequence},
		provider.Event{Type: provider.MetadataEvent, Usage: resp.Usage})
	for _, ev := range evs {
		if err := emit(ev); err != nil {
			return err
		}
	}
	return nil
}

// read rewrites resp in place: the prefill is dropped from the start of
// the reply, and a reply that is a call of one of the tools becomes a
// toolUse block. Blocks other than text (a backend's own tool use, say)
// are kept as they are.
func (w *wrapped) read(resp *provider.Response) {
	text := provider.TextOf(resp.Message.Content)
	var others []provider.Block
	native := false
	for _, b := range resp.Message.Content {
		if b.Type != provider.TextBlock {
			others = append(others, b)
			native = native || b.Type == provider.ToolUseBlock
		}
	}
	if w.prefill != "" {
		t := strings.TrimLeft(text, " \n")
		if rest, ok := strings.CutPrefix(t, strings.TrimLeft(w.prefill, " \n")); ok {
			text = rest
		}
	}
	if w.forced != "" && !native {
		text = w.forced + text
	}
	var blocks []provider.Block
	if w.tools != nil && !native {
		if lead, call, ok := ParseToolCall(text, w.tools); ok {
			if lead = strings.TrimSpace(lead); lead != "" {
				blocks = append(blocks, provider.Block{Type: provider.TextBlock, Text: lead})
			}
			blocks = append(blocks, provider.Block{Type: provider.ToolUseBlock, ToolUse: call})
			resp.Message.Content = append(blocks, others...)
			resp.StopReason, resp.StopSequence = provider.ToolUseStop, ""
			return
		}
	}
	if text != "" {
		blocks = append(blocks, provider.Block{Type: provider.TextBlock, Text: text})
	}
	resp.Message.Content = append(blocks, others...)
}

// ParseToolCall reads a reply of the form {"tool": NAME, "input": {...}},
// possibly in a Markdown code fence or after some text, and returns the
// text before it and the call, if NAME is one of tools. Text after the
// call (a closing fence, say) is dropped. Small models often
// write "name" and "arguments" or "parameters"; those are accepted too.
func ParseToolCall(reply string, tools []provider.Tool) (string, *provider.ToolUse, bool) {
	// The last call wins: a model that repeats the prompt's example before
	// its own call means the latter.
	var call *provider.ToolUse
	at := -1
	for start := 0; start < len(reply); start++ {
		i := strings.IndexByte(reply[start:], '{')
		if i < 0 {
			break
		}
		start += i
		if c, ok := toolCallAt(reply[start:], tools); ok {
			call, at = c, start
		}
	}
	if call == nil {
		return "", nil, false
	}
	lead := strings.TrimSpace(reply[:at])
	lead = strings.TrimSuffix(strings.TrimSuffix(lead, "```json"), "```")
	return lead, call, true
}

func toolCallAt(s string, tools []provider.Tool) (*provider.ToolUse, bool) {
	var v struct {
		Tool       string          `json:"tool"`
		Name       string          `json:"name"`
		Input      json.RawMessage `json:"input"`
		Arguments  json.RawMessage `json:"arguments"`
		Parameters json.RawMessage `json:"parameters"`
	}
	if err := json.NewDecoder(strings.NewReader(s)).Decode(&v); err != nil {
		return nil, false
	}
	name := v.Tool
	if name == "" {
		name = v.Name
	}
	input := v.Input
	for _, alt := range []json.RawMessage{v.Arguments, v.Parameters} {
		if len(input) == 0 {
			input = alt
		}
	}
	if len(input) == 0 || string(input) == "null" {
		input = json.RawMessage(`{}`)
	}
	if t := bytes.TrimSpace(input); len(t) == 0 || t[0] != '{' {
		return nil, false
	}
	for _, t := range tools {
		if t.Name == name {
			var compact bytes.Buffer
			_ = json.Compact(&compact, input)
			return &provider.ToolUse{ID: newToolUseID(), Name: name, Input: compact.Bytes()}, true
		}
	}
	return nil, false
}

func newToolUseID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "tooluse_" + hex.EncodeToString(b[:])
}
