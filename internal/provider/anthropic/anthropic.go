// Package anthropic is the "anthropic" backend kind: Anthropic's Messages
// API (POST /v1/messages with x-api-key and anthropic-version), streamed
// as server-sent events. docs/backends.md describes the config block.
package anthropic

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/openaicompat"
)

// Spec registers the "anthropic" backend kind.
var Spec = provider.Spec{Kind: Kind, New: newAdapter}

// Kind is the backend kind's name.
const Kind = "anthropic"

// Defaults of Config.
const (
	DefaultBaseURL   = "https://api.anthropic.com"
	DefaultVersion   = "2023-06-01"
	DefaultMaxTokens = 4096
)

// Config is the backend's config block. Unknown fields are errors.
type Config struct {
	openaicompat.Common
	// Version is the anthropic-version header (default 2023-06-01).
	Version string `json:"version"`
	// DefaultMaxTokens is max_tokens when a request sets none; the
	// Messages API requires one (default 4096).
	DefaultMaxTokens int `json:"defaultMaxTokens"`
}

// Adapter is the anthropic backend. It is safe for concurrent use.
type Adapter struct {
	http      *openaicompat.HTTP
	maxTokens int
}

var (
	_ provider.Adapter       = (*Adapter)(nil)
	_ provider.ChatTemplater = (*Adapter)(nil)
)

func newAdapter(raw json.RawMessage, env provider.Env) (provider.Adapter, error) {
	return New(raw, env)
}

// New builds the backend from its config block.
func New(raw json.RawMessage, env provider.Env) (*Adapter, error) {
	var c Config
	if err := openaicompat.DecodeConfig(Kind, raw, &c); err != nil {
		return nil, err
	}
	if c.DefaultMaxTokens < 0 {
		return nil, errors.New("anthropic backend config: defaultMaxTokens must not be negative")
	}
	if c.Version == "" {
		c.Version = DefaultVersion
	}
	if c.DefaultMaxTokens == 0 {
		c.DefaultMaxTokens = DefaultMaxTokens
	}
	h, err := c.NewHTTP(Kind, DefaultBaseURL, env, func(h http.Header, key string) { h.Set("X-Api-Key", key) })
	if err != nil {
		return nil, err
	}
	h.Header.Set("Anthropic-Version", c.Version)
	h.ErrorInfo = errorInfo
	return &Adapter{http: h, maxTokens: c.DefaultMaxTokens}, nil
}

// Wire types of the Messages API.
type (
	messagesRequest struct {
		Model         string      `json:"model"`
		MaxTokens     int         `json:"max_tokens"`
		System        []block     `json:"system,omitempty"`
		Messages      []message   `json:"messages"`
		Temperature   *float64    `json:"temperature,omitempty"`
		TopP          *float64    `json:"top_p,omitempty"`
		TopK          *int        `json:"top_k,omitempty"`
		StopSequences []string    `json:"stop_sequences,omitempty"`
		Tools         []tool      `json:"tools,omitempty"`
		ToolChoice    *toolChoice `json:"tool_choice,omitempty"`
		Stream        bool        `json:"stream,omitempty"`
	}
	message struct {
		Role    string  `json:"role"`
		Content []block `json:"content"`
	}
	block struct {
		Type string  `json:"type"`
		Text *string `json:"text,omitempty"`
		// image, document
		Source *source `json:"source,omitempty"`
		Title  string  `json:"title,omitempty"`
		// tool_use
		ID    string          `json:"id,omitempty"`
		Name  string          `json:"name,omitempty"`
		Input json.RawMessage `json:"input,omitempty"`
		// tool_result
		ToolUseID string  `json:"tool_use_id,omitempty"`
		Content   []block `json:"content,omitempty"`
		IsError   bool    `json:"is_error,omitempty"`
		// thinking, redacted_thinking
		Thinking  *string `json:"thinking,omitempty"`
		Signature string  `json:"signature,omitempty"`
		Data      string  `json:"data,omitempty"`
	}
	source struct {
		Type      string `json:"type"`
		MediaType string `json:"media_type"`
		Data      string `json:"data"`
	}
	tool struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		InputSchema json.RawMessage `json:"input_schema"`
	}
	toolChoice struct {
		Type string `json:"type"`
		Name string `json:"name,omitempty"`
	}
	messagesResponse struct {
		Content      []block `json:"content"`
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
		Usage        usage   `json:"usage"`
	}
	usage struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
	}
	apiError struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
)

func str(s string) *string { return &s }

// errorInfo reads {"type": "error", "error": {"type", "message"}}.
func errorInfo(body []byte) (typ, msg string) {
	var e struct {
		Error apiError `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Type != "" {
		return e.Error.Type, e.Error.Message
	}
	return "", openaicompat.Truncate(string(body), 512)
}

func unsupported(what string) error {
	return fault.Newf(fault.Invalid, "The anthropic backend does not accept %s.", what)
}

func (a *Adapter) buildRequest(req *provider.Request, stream bool) ([]byte, error) {
	if req.Raw {
		return nil, unsupported("raw text-completion prompts")
	}
	out := messagesRequest{Model: req.Model, MaxTokens: req.MaxTokens, Temperature: req.Temperature, TopP: req.TopP, TopK: req.TopK,
		StopSequences: req.StopSequences, Stream: stream}
	if out.MaxTokens == 0 {
		out.MaxTokens = a.maxTokens
	}
	for _, b := range req.System {
		if b.Type == provider.TextBlock && b.Text != "" {
			out.System = append(out.System, block{Type: "text", Text: str(b.Text)})
		}
	}
	for _, m := range req.Messages {
		bs, err := blocks(m)
		if err != nil {
			return nil, err
		}
		if len(bs) == 0 {
			continue
		}
		out.Messages = append(out.Messages, message{Role: string(m.Role), Content: bs})
	}
	for _, t := range req.Tools {
		schema := t.Schema
		if len(schema) == 0 {
			schema = json.RawMessage(`{"type":"object"}`)
		}
		out.Tools = append(out.Tools, tool{Name: t.Name, Description: t.Description, InputSchema: schema})
	}
	if len(out.Tools) > 0 {
		switch req.ToolChoice.Mode {
		case provider.ToolAny:
			out.ToolChoice = &toolChoice{Type: "any"}
		case provider.ToolOne:
			out.ToolChoice = &toolChoice{Type: "tool", Name: req.ToolChoice.Name}
		case provider.ToolNone:
			out.ToolChoice = &toolChoice{Type: "none"}
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "The request cannot be encoded for the backend.")
	}
	return openaicompat.MergeExtra(b, req.Extra)
}

func blocks(m provider.Message) ([]block, error) {
	var out []block
	for _, b := range m.Content {
		switch b.Type {
		case provider.TextBlock, provider.GuardBlock:
			out = append(out, block{Type: "text", Text: str(b.Text)})
		case provider.ImageBlock:
			ib, err := imageBlock(b.Image)
			if err != nil {
				return nil, err
			}
			out = append(out, ib)
		case provider.DocumentBlock:
			db, err := documentBlock(b.Document)
			if err != nil {
				return nil, err
			}
			out = append(out, db)
		case provider.ToolUseBlock:
			in := b.ToolUse.Input
			if len(in) == 0 {
				in = json.RawMessage("{}")
			}
			out = append(out, block{Type: "tool_use", ID: b.ToolUse.ID, Name: b.ToolUse.Name, Input: in})
		case provider.ToolResultBlock:
			tr := block{Type: "tool_result", ToolUseID: b.ToolResult.ToolUseID, IsError: b.ToolResult.Status == "error"}
			for _, c := range b.ToolResult.Content {
				switch c.Type {
				case provider.TextBlock:
					tr.Content = append(tr.Content, block{Type: "text", Text: str(c.Text)})
				case provider.JSONBlock:
					tr.Content = append(tr.Content, block{Type: "text", Text: str(string(c.JSON))})
				case provider.ImageBlock:
					ib, err := imageBlock(c.Image)
					if err != nil {
						return nil, err
					}
					tr.Content = append(tr.Content, ib)
				case provider.DocumentBlock:
					db, err := documentBlock(c.Document)
					if err != nil {
						return nil, err
					}
					tr.Content = append(tr.Content, db)
				default:
					return nil, unsupported(fmt.Sprintf("%s blocks in tool results", c.Type))
				}
			}
			out = append(out, tr)
		case provider.ReasoningBlock:
			r := b.Reasoning
			if len(r.Redacted) > 0 {
				out = append(out, block{Type: "redacted_thinking", Data: string(r.Redacted)})
			} else if r.Signature != "" {
				out = append(out, block{Type: "thinking", Thinking: str(r.Text), Signature: r.Signature})
			}
			// Unsigned reasoning cannot be sent back to Anthropic.
		case provider.CachePointBlock:
		default:
			return nil, unsupported(fmt.Sprintf("%s blocks", b.Type))
		}
	}
	return out, nil
}

func imageBlock(im *provider.Image) (block, error) {
	if im == nil || len(im.Data) == 0 {
		return block{}, unsupported("images by location (send the bytes inline)")
	}
	mt, ok := openaicompat.MediaType(im.Format)
	if !ok {
		return block{}, fault.Newf(fault.Invalid, "Image format %q is not supported.", im.Format)
	}
	return block{Type: "image", Source: &source{Type: "base64", MediaType: mt, Data: base64.StdEncoding.EncodeToString(im.Data)}}, nil
}

// documentBlock sends PDFs as base64 and plain-text formats as text
// sources; other formats (docx, xlsx, ...) need converting first.
func documentBlock(d *provider.Document) (block, error) {
	if d == nil {
		return block{}, unsupported("empty documents")
	}
	b := block{Type: "document", Title: d.Name}
	switch f := strings.ToLower(d.Format); {
	case d.Text != "":
		b.Source = &source{Type: "text", MediaType: "text/plain", Data: d.Text}
	case len(d.Data) == 0:
		return block{}, unsupported("documents by location (send the bytes inline)")
	case f == "pdf":
		b.Source = &source{Type: "base64", MediaType: "application/pdf", Data: base64.StdEncoding.EncodeToString(d.Data)}
	case f == "txt" || f == "md" || f == "csv" || f == "html":
		b.Source = &source{Type: "text", MediaType: "text/plain", Data: string(d.Data)}
	default:
		return block{}, unsupported(fmt.Sprintf("%s documents (only pdf, txt, md, csv and html)", d.Format))
	}
	return b, nil
}

// stopReason maps Anthropic's stop_reason to Converse's.
func stopReason(s string) provider.StopReason {
	switch s {
	case "max_tokens":
		return provider.MaxTokens
	case "stop_sequence":
		return provider.StopSequence
	case "tool_use":
		return provider.ToolUseStop
	case "refusal":
		return provider.ContentFilter
	case "model_context_window_exceeded":
		return provider.ContextWindow
	}
	return provider.EndTurn // end_turn, pause_turn
}

// Converse sends a non-streaming request.
func (a *Adapter) Converse(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	body, err := a.buildRequest(req, false)
	if err != nil {
		return nil, err
	}
	var mr messagesResponse
	if err := a.http.PostJSON(ctx, "/v1/messages", body, 64<<20, &mr, "a response"); err != nil {
		return nil, err
	}
	out := &provider.Response{Message: provider.Message{Role: provider.Assistant}, StopReason: stopReason(mr.StopReason),
		Usage: provider.Usage{InputTokens: mr.Usage.InputTokens, OutputTokens: mr.Usage.OutputTokens}}
	if mr.StopSequence != nil {
		out.StopSequence = *mr.StopSequence
	}
	for _, b := range mr.Content {
		switch b.Type {
		case "text":
			if b.Text != nil {
				out.Message.Content = append(out.Message.Content, provider.Block{Type: provider.TextBlock, Text: *b.Text})
			}
		case "tool_use":
			out.Message.Content = append(out.Message.Content, provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: b.ID, Name: b.Name, Input: b.Input}})
		case "thinking":
			r := &provider.Reasoning{Signature: b.Signature}
			if b.Thinking != nil {
				r.Text = *b.Thinking
			}
			out.Message.Content = append(out.Message.Content, provider.Block{Type: provider.ReasoningBlock, Reasoning: r})
		case "redacted_thinking":
			out.Message.Content = append(out.Message.Content, provider.Block{Type: provider.ReasoningBlock, Reasoning: &provider.Reasoning{Redacted: []byte(b.Data)}})
		}
	}
	return out, nil
}

// streamErr maps an "error" event (sent after a 200 status).
func (a *Adapter) streamErr(e apiError) error {
	kind := fault.ModelFailed
	switch e.Type {
	case "overloaded_error":
		kind = fault.Unavailable
	case "rate_limit_error":
		kind = fault.Throttled
	case "invalid_request_error", "request_too_large":
		kind = fault.Invalid
	case "timeout_error":
		kind = fault.ModelTimeout
	}
	typ := e.Type
	if typ == "" || strings.ContainsAny(typ, " \"<>") || len(typ) > 64 {
		typ = "error"
	}
	return fault.Wrap(kind, errors.New(a.http.Redact(openaicompat.Truncate(e.Message, 512))),
		fmt.Sprintf("The anthropic backend reported an error in the stream (%s).", typ))
}

// TemplatesChat reports true: the Messages API takes conversations only, so
// a raw text-completion prompt reaches it as the chat turns it was written
// as (adapt's prompt-as-chat).
func (a *Adapter) TemplatesChat(context.Context, string) bool { return true }
