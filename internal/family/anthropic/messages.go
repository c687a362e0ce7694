// Package anthropic holds the Anthropic Claude InvokeModel families:
// "anthropic-messages" (the Messages API as Bedrock serves it, with
// anthropic_version "bedrock-2023-05-31") and "anthropic-text" (the legacy
// Text Completions API of Claude Instant and Claude 2).
//
// Bedrock checks the body's shape with a JSON Schema first (those errors
// read "Malformed input request: #...") and Claude then checks the
// conversation itself (those read "messages: ..."); Messages does both.
package anthropic

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/schema"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// Version is the anthropic_version Bedrock documents for Messages bodies.
// Anthropic's own SDKs (anthropic 2.x's AnthropicBedrock) send their API
// version instead, a date such as "2026-10-21", which Bedrock serves too;
// validVersion accepts both.
const Version = "bedrock-2023-05-31"

// validVersion reports whether v is Version or an Anthropic API version
// (YYYY-MM-DD).
func validVersion(v string) bool {
	if v == Version {
		return true
	}
	_, err := time.Parse(time.DateOnly, v)
	return err == nil
}

// Messages is the anthropic-messages family. The zero value is ready to
// use; NewID, when set, replaces the random message IDs (tests pin it).
type Messages struct {
	NewID func() string
}

var _ family.ChatCodec = Messages{}

// Name returns "anthropic-messages".
func (Messages) Name() string { return "anthropic-messages" }

func (c Messages) id() string {
	if c.NewID != nil {
		return c.NewID()
	}
	return "msg_bdrk_01" + randomID(22)
}

const idAlphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

var messagesSchema = schema.Obj([]string{"anthropic_version", "max_tokens", "messages"},
	schema.P("anthropic_version", schema.Str()), // checked by validVersion
	schema.P("anthropic_beta", schema.Arr(schema.Str())),
	schema.P("max_tokens", schema.Int(1, schema.NoLimit)),
	schema.P("system", &schema.Schema{Type: schema.String | schema.Array, Items: &schema.Schema{Type: schema.Object, Open: true, Required: []string{"type"}}}),
	schema.P("messages", schema.Arr(schema.Obj([]string{"role", "content"},
		schema.P("role", schema.Enum("user", "assistant")),
		schema.P("content", &schema.Schema{Type: schema.String | schema.Array, Items: &schema.Schema{Type: schema.Object, Open: true, Required: []string{"type"}}}),
	))),
	schema.P("temperature", schema.Num(0, 1)),
	schema.P("top_p", schema.Num(0, 1)),
	schema.P("top_k", schema.Int(0, 500)),
	schema.P("stop_sequences", schema.Arr(schema.Str())),
	schema.P("tools", schema.Arr(&schema.Schema{Type: schema.Object, Open: true, Required: []string{"name"}})),
	schema.P("tool_choice", &schema.Schema{Type: schema.Object, Open: true, Required: []string{"type"}, Props: []schema.Prop{
		schema.P("type", schema.Enum("auto", "any", "tool", "none")),
		schema.P("name", schema.Str()),
	}}),
	schema.P("thinking", &schema.Schema{Type: schema.Object, Open: true, Required: []string{"type"}, Props: []schema.Prop{
		schema.P("type", schema.Enum("enabled", "disabled")),
		schema.P("budget_tokens", schema.Int(1024, schema.NoLimit)),
	}}),
)

type messagesRequest struct {
	Version       string           `json:"anthropic_version"`
	MaxTokens     int              `json:"max_tokens"`
	System        json.RawMessage  `json:"system"`
	Messages      []message        `json:"messages"`
	Temperature   *float64         `json:"temperature"`
	TopP          *float64         `json:"top_p"`
	TopK          *int             `json:"top_k"`
	StopSequences []string         `json:"stop_sequences"`
	Tools         []tool           `json:"tools"`
	ToolChoice    *toolChoice      `json:"tool_choice"`
	Thinking      *json.RawMessage `json:"thinking"`
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// block is any content block; Type says which fields matter.
type block struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text"`
	Source    *source         `json:"source"`
	Title     string          `json:"title"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
	Thinking  *string         `json:"thinking"`
	Signature string          `json:"signature"`
	Data      string          `json:"data"`
}

type source struct {
	Type      string  `json:"type"`
	MediaType string  `json:"media_type"`
	Data      string  `json:"data"`
	URL       string  `json:"url"`
	Content   []block `json:"content"`
}

type tool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type toolChoice struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

func invalid(format string, args ...any) error { return fault.Newf(fault.Invalid, format, args...) }

// DecodeRequest validates a Messages body and returns its canonical form.
func (Messages) DecodeRequest(body []byte) (*provider.Request, error) {
	var in messagesRequest
	if err := schema.Unmarshal(body, messagesSchema, &in); err != nil {
		return nil, err
	}
	if !validVersion(in.Version) {
		return nil, schema.Violation(fmt.Sprintf("#/anthropic_version: %s is not a valid enum value", in.Version))
	}
	req := &provider.Request{
		MaxTokens:     in.MaxTokens,
		Temperature:   in.Temperature,
		TopP:          in.TopP,
		TopK:          in.TopK,
		StopSequences: in.StopSequences,
	}
	if in.Thinking != nil {
		extra, _ := json.Marshal(map[string]json.RawMessage{"thinking": *in.Thinking})
		req.Extra = extra
	}
	var err error
	if req.System, err = systemBlocks(in.System); err != nil {
		return nil, err
	}
	if err := tools(req, in.Tools, in.ToolChoice); err != nil {
		return nil, err
	}
	if err := messages(req, in.Messages); err != nil {
		return nil, err
	}
	return req, nil
}

func systemBlocks(raw json.RawMessage) ([]provider.Block, error) {
	if bs, ok := provider.StringBlocks(raw); ok {
		return bs, nil
	}
	var bs []block
	if err := json.Unmarshal(raw, &bs); err != nil {
		return nil, fault.Wrap(fault.Invalid, err, schema.Malformed)
	}
	var out []provider.Block
	for i, b := range bs {
		if b.Type != "text" {
			return nil, invalid("system.%d.type: Input should be 'text'", i)
		}
		if b.Text == nil {
			return nil, invalid("system.%d.text: Field required", i)
		}
		if *b.Text == "" {
			return nil, invalid("system: text content blocks must be non-empty")
		}
		out = append(out, provider.Block{Type: provider.TextBlock, Text: *b.Text})
	}
	return out, nil
}

func tools(req *provider.Request, ts []tool, choice *toolChoice) error {
	names := map[string]bool{}
	for i, t := range ts {
		if names[t.Name] {
			return invalid("tools: Tool names must be unique.")
		}
		names[t.Name] = true
		switch {
		case t.Type == "" || t.Type == "custom":
			if len(t.InputSchema) == 0 || t.InputSchema[0] != '{' {
				return invalid("tools.%d.custom.input_schema: Field required", i)
			}
			req.Tools = append(req.Tools, provider.Tool{Name: t.Name, Description: t.Description, Schema: t.InputSchema})
		default:
			// Anthropic-defined tools (computer_*, bash_*, text_editor_*)
			// carry no schema; the client runs them.
			req.Tools = append(req.Tools, provider.Tool{Name: t.Name, Description: t.Type, Schema: json.RawMessage(`{"type":"object"}`)})
		}
	}
	if choice == nil {
		return nil
	}
	switch choice.Type {
	case "any":
		req.ToolChoice.Mode = provider.ToolAny
	case "none":
		req.ToolChoice.Mode = provider.ToolNone
	case "tool":
		if !names[choice.Name] {
			return invalid("tool_choice.name: Tool '%s' not found in provided tools", choice.Name)
		}
		req.ToolChoice = provider.ToolChoice{Mode: provider.ToolOne, Name: choice.Name}
	}
	return nil
}

func messages(req *provider.Request, ms []message) error {
	if len(ms) == 0 {
		return invalid("messages: at least one message is required")
	}
	if ms[0].Role != "user" {
		return invalid(`messages: first message must use the "user" role`)
	}
	var pending []string // tool_use IDs awaiting results
	for i, m := range ms {
		content, err := contentBlocks(m.Content, i)
		if err != nil {
			return err
		}
		var uses, results []string
		for j, b := range content {
			switch b.Type {
			case provider.ToolUseBlock:
				if m.Role != "assistant" {
					return invalid("messages.%d.content.%d: tool_use blocks can only be in assistant messages", i, j)
				}
				uses = append(uses, b.ToolUse.ID)
			case provider.ToolResultBlock:
				if m.Role != "user" {
					return invalid("messages.%d.content.%d: tool_result blocks can only be in user messages", i, j)
				}
				results = append(results, b.ToolResult.ToolUseID)
			}
		}
		if m.Role == "user" {
			for _, id := range results {
				if !contains(pending, id) {
					return invalid("messages.%d.content.0: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, id)
				}
			}
			var missing []string
			for _, id := range pending {
				if !contains(results, id) {
					missing = append(missing, id)
				}
			}
			if len(missing) > 0 {
				return invalid("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i-1, strings.Join(missing, ", "))
			}
			pending = nil
		} else {
			pending = append(pending, uses...)
		}
		role := provider.Role(m.Role)
		if n := len(req.Messages); n > 0 && req.Messages[n-1].Role == role {
			// Consecutive turns of one role are merged, as Claude does.
			req.Messages[n-1].Content = append(req.Messages[n-1].Content, content...)
			continue
		}
		req.Messages = append(req.Messages, provider.Message{Role: role, Content: content})
	}
	if len(pending) > 0 && ms[len(ms)-1].Role == "user" {
		return invalid("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", len(ms)-2, strings.Join(pending, ", "))
	}
	last := req.Messages[len(req.Messages)-1]
	if last.Role == provider.Assistant {
		if n := len(last.Content); n > 0 && last.Content[n-1].Type == provider.TextBlock && strings.TrimRight(last.Content[n-1].Text, " \t\r\n") != last.Content[n-1].Text {
			return invalid("messages: final assistant content cannot end with trailing whitespace")
		}
	}
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func contentBlocks(raw json.RawMessage, i int) ([]provider.Block, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, invalid("messages.%d: all messages must have non-empty content except for the optional final assistant message", i)
		}
		return []provider.Block{{Type: provider.TextBlock, Text: s}}, nil
	}
	var bs []block
	if err := json.Unmarshal(raw, &bs); err != nil {
		return nil, fault.Wrap(fault.Invalid, err, schema.Malformed)
	}
	if len(bs) == 0 {
		return nil, invalid("messages.%d: all messages must have non-empty content except for the optional final assistant message", i)
	}
	out := make([]provider.Block, 0, len(bs))
	for j, b := range bs {
		pb, err := contentBlock(b, fmt.Sprintf("messages.%d.content.%d", i, j), true)
		if err != nil {
			return nil, err
		}
		out = append(out, pb)
	}
	return out, nil
}

var blockTypes = "'text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking'"

// contentBlock converts one block; at is its path for error messages.
// Tool blocks are allowed only at the top level of a message.
func contentBlock(b block, at string, top bool) (provider.Block, error) {
	switch b.Type {
	case "text":
		if b.Text == nil {
			return provider.Block{}, invalid("%s.text.text: Field required", at)
		}
		if *b.Text == "" {
			return provider.Block{}, invalid("messages: text content blocks must be non-empty")
		}
		return provider.Block{Type: provider.TextBlock, Text: *b.Text}, nil
	case "image":
		return imageBlock(b.Source, at)
	case "document":
		return documentBlock(b, at)
	case "tool_use":
		if !top {
			break
		}
		if b.ID == "" {
			return provider.Block{}, invalid("%s.tool_use.id: Field required", at)
		}
		if b.Name == "" {
			return provider.Block{}, invalid("%s.tool_use.name: Field required", at)
		}
		in := b.Input
		if len(in) == 0 || in[0] != '{' {
			return provider.Block{}, invalid("%s.tool_use.input: Input should be a valid dictionary", at)
		}
		return provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: b.ID, Name: b.Name, Input: in}}, nil
	case "tool_result":
		if !top {
			break
		}
		if b.ToolUseID == "" {
			return provider.Block{}, invalid("%s.tool_result.tool_use_id: Field required", at)
		}
		tr := &provider.ToolResult{ToolUseID: b.ToolUseID}
		if b.IsError {
			tr.Status = "error"
		}
		if err := toolResultContent(tr, b.Content, at); err != nil {
			return provider.Block{}, err
		}
		return provider.Block{Type: provider.ToolResultBlock, ToolResult: tr}, nil
	case "thinking":
		if !top {
			break
		}
		if b.Thinking == nil {
			return provider.Block{}, invalid("%s.thinking.thinking: Field required", at)
		}
		return provider.Block{Type: provider.ReasoningBlock, Reasoning: &provider.Reasoning{Text: *b.Thinking, Signature: b.Signature}}, nil
	case "redacted_thinking":
		if !top {
			break
		}
		return provider.Block{Type: provider.ReasoningBlock, Reasoning: &provider.Reasoning{Redacted: []byte(b.Data)}}, nil
	}
	return provider.Block{}, invalid("%s: Input tag '%s' found using 'type' does not match any of the expected tags: %s", at, b.Type, blockTypes)
}

func toolResultContent(tr *provider.ToolResult, raw json.RawMessage, at string) error {
	if bs, ok := provider.StringBlocks(raw); ok {
		tr.Content = bs
		return nil
	}
	var bs []block
	if err := json.Unmarshal(raw, &bs); err != nil {
		return invalid("%s.tool_result.content: Input should be a valid list", at)
	}
	for k, b := range bs {
		pb, err := contentBlock(b, fmt.Sprintf("%s.tool_result.content.%d", at, k), false)
		if err != nil {
			return err
		}
		tr.Content = append(tr.Content, pb)
	}
	return nil
}

var imageTypes = map[string]string{"image/jpeg": "jpeg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}

func imageBlock(s *source, at string) (provider.Block, error) {
	if s == nil {
		return provider.Block{}, invalid("%s.image.source: Field required", at)
	}
	switch s.Type {
	case "base64":
		format, ok := imageTypes[s.MediaType]
		if !ok {
			return provider.Block{}, invalid("%s.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'", at)
		}
		data, err := base64.StdEncoding.DecodeString(s.Data)
		if err != nil {
			return provider.Block{}, invalid("%s.image.source.base64.data: The image data is not valid base64.", at)
		}
		return provider.Block{Type: provider.ImageBlock, Image: &provider.Image{Format: format, Data: data}}, nil
	case "url":
		return provider.Block{Type: provider.ImageBlock, Image: &provider.Image{URI: s.URL}}, nil
	}
	return provider.Block{}, invalid("%s.image.source: Input tag '%s' found using 'type' does not match any of the expected tags: 'base64', 'url'", at, s.Type)
}

func documentBlock(b block, at string) (provider.Block, error) {
	s := b.Source
	if s == nil {
		return provider.Block{}, invalid("%s.document.source: Field required", at)
	}
	name := b.Title
	if name == "" {
		name = "document"
	}
	doc := &provider.Document{Name: name}
	switch s.Type {
	case "base64":
		if s.MediaType != "application/pdf" {
			return provider.Block{}, invalid("%s.document.source.base64.media_type: Input should be 'application/pdf'", at)
		}
		data, err := base64.StdEncoding.DecodeString(s.Data)
		if err != nil {
			return provider.Block{}, invalid("%s.document.source.base64.data: The PDF data is not valid base64.", at)
		}
		doc.Format, doc.Data = "pdf", data
	case "text":
		doc.Format, doc.Text = "txt", s.Data
	case "content":
		var sb strings.Builder
		for _, c := range s.Content {
			if c.Type == "text" && c.Text != nil {
				sb.WriteString(*c.Text)
			}
		}
		doc.Format, doc.Text = "txt", sb.String()
	case "url":
		doc.Format, doc.URI = "pdf", s.URL
	default:
		return provider.Block{}, invalid("%s.document.source: Input tag '%s' found using 'type' does not match any of the expected tags: 'base64', 'content', 'text', 'url'", at, s.Type)
	}
	return provider.Block{Type: provider.DocumentBlock, Document: doc}, nil
}
