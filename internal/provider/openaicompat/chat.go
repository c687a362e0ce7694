// Package openaicompat is the shared client for the OpenAI Chat Completions
// dialect that many servers speak (OpenAI itself, vLLM, llama.cpp's server,
// LM Studio, TGI, ...), and the HTTP plumbing every upstream backend kind
// shares: pooled connections, timeouts, retries with exponential backoff
// and full jitter, Retry-After, error mapping to fault kinds, secret
// redaction and a server-sent-events reader.
//
// Backend kinds never import each other; they share code only through
// this package.
package openaicompat

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/wirejson"
)

// Quirks are the ways OpenAI-compatible servers differ.
type Quirks struct {
	// MaxTokensField names the output limit: "max_tokens" (default,
	// understood by every compatible server) or "max_completion_tokens"
	// (required by OpenAI's reasoning models).
	MaxTokensField string
	// NoStreamUsage leaves out stream_options.include_usage, for servers
	// that reject it; streamed responses then report no token counts.
	NoStreamUsage bool
	// TopK sends top_k (vLLM, llama.cpp); OpenAI itself rejects it, so by
	// default a request's topK is not sent.
	TopK bool
}

// Client speaks Chat Completions, Embeddings and Images over an HTTP
// upstream whose BaseURL ends before /chat/completions (for OpenAI,
// https://api.openai.com/v1).
type Client struct {
	HTTP   *HTTP
	Quirks Quirks
}

var (
	_ provider.Adapter        = (*Client)(nil)
	_ provider.Embedder       = (*Client)(nil)
	_ provider.ImageGenerator = (*Client)(nil)
	_ provider.ChatTemplater  = (*Client)(nil)
)

// GenerateImages calls the upstream's /images/generations with the
// defaults of Images (OpenAI itself and LocalAI serve it next to Chat
// Completions; a server without it answers 404, reported as such).
func (c *Client) GenerateImages(ctx context.Context, req *provider.ImageRequest) (*provider.ImageResponse, error) {
	return (&Images{HTTP: c.HTTP}).GenerateImages(ctx, req)
}

// Wire types of the Chat Completions API.
type (
	chatRequest struct {
		Model               string          `json:"model"`
		Messages            []chatMessage   `json:"messages"`
		MaxTokens           int             `json:"max_tokens,omitempty"`
		MaxCompletionTokens int             `json:"max_completion_tokens,omitempty"`
		Temperature         *float64        `json:"temperature,omitempty"`
		TopP                *float64        `json:"top_p,omitempty"`
		TopK                *int            `json:"top_k,omitempty"`
		Stop                []string        `json:"stop,omitempty"`
		Seed                *int64          `json:"seed,omitempty"`
		Tools               []chatTool      `json:"tools,omitempty"`
		ToolChoice          any             `json:"tool_choice,omitempty"`
		Stream              bool            `json:"stream,omitempty"`
		StreamOptions       *streamOptions  `json:"stream_options,omitempty"`
		ResponseFormat      *responseFormat `json:"response_format,omitempty"`
		Logprobs            bool            `json:"logprobs,omitempty"`
		TopLogprobs         int             `json:"top_logprobs,omitempty"`
		Extra               json.RawMessage `json:"-"`
	}
	responseFormat struct {
		Type       string      `json:"type"`
		JSONSchema *jsonSchema `json:"json_schema,omitempty"`
	}
	jsonSchema struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema,omitempty"`
		Strict bool            `json:"strict,omitempty"`
	}
	streamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	}
	chatMessage struct {
		Role       string         `json:"role"`
		Content    any            `json:"content"` // string, []contentPart or nil
		ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
		ToolCallID string         `json:"tool_call_id,omitempty"`
	}
	contentPart struct {
		Type     string    `json:"type"`
		Text     string    `json:"text,omitempty"`
		ImageURL *imageURL `json:"image_url,omitempty"`
	}
	imageURL struct {
		URL string `json:"url"`
	}
	chatTool struct {
		Type     string       `json:"type"`
		Function toolFunction `json:"function"`
	}
	toolFunction struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
	}
	chatToolCall struct {
		Index    *int         `json:"index,omitempty"`
		ID       string       `json:"id,omitempty"`
		Type     string       `json:"type,omitempty"`
		Function functionCall `json:"function"`
	}
	functionCall struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	}

	chatResponse struct {
		Choices []choice   `json:"choices"`
		Usage   *chatUsage `json:"usage"`
		Error   *apiError  `json:"error"`
	}
	choice struct {
		Index        int             `json:"index"`
		Message      *respMessage    `json:"message"`
		Delta        *respMessage    `json:"delta"`
		FinishReason string          `json:"finish_reason"`
		StopReason   json.RawMessage `json:"stop_reason"` // vLLM: the matched stop string
		Logprobs     *choiceLogprobs `json:"logprobs"`
	}
	choiceLogprobs struct {
		Content []logprobEntry `json:"content"`
	}
	logprobEntry struct {
		Token       string         `json:"token"`
		Logprob     float64        `json:"logprob"`
		Bytes       []int          `json:"bytes"`
		TopLogprobs []logprobEntry `json:"top_logprobs"`
	}
	respMessage struct {
		Role             string         `json:"role"`
		Content          *string        `json:"content"`
		ReasoningContent *string        `json:"reasoning_content"`
		Reasoning        *string        `json:"reasoning"` // newer vLLM, Ollama's OpenAI endpoint
		Refusal          *string        `json:"refusal"`
		ToolCalls        []chatToolCall `json:"tool_calls"`
	}
	chatUsage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	}
	apiError struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    any    `json:"code"`
	}
)

// ErrorInfo reads an OpenAI error body {"error": {"message", "type", "code"}}.
func ErrorInfo(body []byte) (typ, msg string) {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Error) > 0 {
		var ae apiError
		if json.Unmarshal(e.Error, &ae) == nil {
			typ = ae.Type
			if c, ok := ae.Code.(string); ok && c != "" {
				typ = c
			}
			return typ, ae.Message
		}
		var s string
		if json.Unmarshal(e.Error, &s) == nil { // some servers send "error": "text"
			return "", s
		}
	}
	return "", Truncate(string(body), 512)
}

// Truncate shortens s to n bytes for logs.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// MergeExtra adds the top-level fields of extra (a JSON object, the
// request's additional model fields) that body does not already set.
func MergeExtra(body []byte, extra json.RawMessage) ([]byte, error) {
	if len(extra) == 0 || string(extra) == "null" {
		return body, nil
	}
	var ex map[string]json.RawMessage
	if err := json.Unmarshal(extra, &ex); err != nil {
		return nil, fault.New(fault.Invalid, "additionalModelRequestFields must be a JSON object.")
	}
	if len(ex) == 0 {
		return body, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	for k, v := range ex {
		if _, set := m[k]; !set {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// MediaType returns the MIME type of a Converse image format.
func MediaType(format string) (string, bool) {
	switch strings.ToLower(format) {
	case "png":
		return "image/png", true
	case "jpeg", "jpg":
		return "image/jpeg", true
	case "gif":
		return "image/gif", true
	case "webp":
		return "image/webp", true
	}
	return "", false
}

func (c *Client) name() string { return c.HTTP.Name }

func (c *Client) unsupported(what string) error {
	return fault.Newf(fault.Invalid, "The %s backend does not accept %s.", c.name(), what)
}

// buildRequest maps a canonical request to the Chat Completions body.
func (c *Client) buildRequest(req *provider.Request, stream bool) ([]byte, error) {
	if req.Raw {
		return nil, c.unsupported("raw text-completion prompts")
	}
	out := chatRequest{Model: req.Model, Temperature: req.Temperature, TopP: req.TopP, Stop: req.StopSequences, Seed: req.Seed, Stream: stream}
	if req.MaxTokens > 0 {
		if c.Quirks.MaxTokensField == "max_completion_tokens" {
			out.MaxCompletionTokens = req.MaxTokens
		} else {
			out.MaxTokens = req.MaxTokens
		}
	}
	if c.Quirks.TopK {
		out.TopK = req.TopK
	}
	if stream && !c.Quirks.NoStreamUsage {
		out.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	out.Messages = make([]chatMessage, 0, len(req.Messages)+1)
	if sys := textContent(req.System); sys != nil {
		out.Messages = append(out.Messages, chatMessage{Role: "system", Content: sys})
	}
	for _, m := range req.Messages {
		var err error
		if out.Messages, err = c.appendMessages(out.Messages, m); err != nil {
			return nil, err
		}
	}
	for _, t := range req.Tools {
		out.Tools = append(out.Tools, chatTool{Type: "function", Function: toolFunction{Name: t.Name, Description: t.Description, Parameters: t.Schema}})
	}
	if len(out.Tools) > 0 {
		switch req.ToolChoice.Mode {
		case provider.ToolAny:
			out.ToolChoice = "required"
		case provider.ToolNone:
			out.ToolChoice = "none"
		case provider.ToolOne:
			out.ToolChoice = map[string]any{"type": "function", "function": map[string]string{"name": req.ToolChoice.Name}}
		}
	}
	out.Logprobs, out.TopLogprobs = req.Logprobs, req.TopLogprobs
	if f := req.Format; f != nil {
		out.ResponseFormat = &responseFormat{Type: string(f.Type)}
		if f.Type == provider.JSONSchema {
			out.ResponseFormat.JSONSchema = &jsonSchema{Name: f.Name, Schema: f.Schema, Strict: f.Strict}
		}
	}
	b, err := wirejson.Marshal(out)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "The request cannot be encoded for the backend.")
	}
	return MergeExtra(b, req.Extra)
}

// textContent returns the text blocks of bs as a message's content, nil
// when there is no text. It points at the one text block's own string when
// there is one (the common case): no copy, and an any holding a pointer
// needs no allocation; it encodes as the string would.
func textContent(bs []provider.Block) *string {
	last, count := -1, 0
	for i := range bs {
		if bs[i].Type == provider.TextBlock {
			last, count = i, count+1
		}
	}
	if count == 1 && bs[last].Text != "" {
		return &bs[last].Text
	}
	if s := provider.TextOf(bs); s != "" {
		return &s
	}
	return nil
}

// plainText reports whether the blocks of a turn are all text (or have no
// Chat Completions form), and if so returns its content as messages would
// make it: nil when there is no text block, else their texts joined.
func plainText(bs []provider.Block) (content *string, ok bool) {
	last, count := -1, 0
	for i := range bs {
		switch bs[i].Type {
		case provider.TextBlock, provider.GuardBlock:
			last, count = i, count+1
		case provider.ReasoningBlock, provider.CachePointBlock:
		default:
			return nil, false
		}
	}
	switch count {
	case 0:
		return nil, true
	case 1:
		return &bs[last].Text, true
	}
	var sb strings.Builder
	for _, b := range bs {
		if b.Type == provider.TextBlock || b.Type == provider.GuardBlock {
			sb.WriteString(b.Text)
		}
	}
	s := sb.String()
	return &s, true
}

// appendMessages appends one canonical turn to dst as one or more Chat
// Completions messages: tool results become "tool" messages ahead of the
// user's other content.
func (c *Client) appendMessages(dst []chatMessage, m provider.Message) ([]chatMessage, error) {
	if text, ok := plainText(m.Content); ok { // the common turn, without a parts list
		if text == nil {
			return dst, nil
		}
		return append(dst, chatMessage{Role: string(m.Role), Content: text}), nil
	}
	var parts []contentPart
	var calls []chatToolCall
	for _, b := range m.Content {
		switch b.Type {
		case provider.TextBlock, provider.GuardBlock:
			parts = append(parts, contentPart{Type: "text", Text: b.Text})
		case provider.ImageBlock:
			if m.Role != provider.User {
				return nil, c.unsupported("images in assistant turns")
			}
			u, err := c.dataURL(b.Image)
			if err != nil {
				return nil, err
			}
			parts = append(parts, contentPart{Type: "image_url", ImageURL: &imageURL{URL: u}})
		case provider.ToolUseBlock:
			args := string(b.ToolUse.Input)
			if args == "" {
				args = "{}"
			}
			calls = append(calls, chatToolCall{ID: b.ToolUse.ID, Type: "function", Function: functionCall{Name: b.ToolUse.Name, Arguments: args}})
		case provider.ToolResultBlock:
			text, err := c.toolResultText(b.ToolResult)
			if err != nil {
				return nil, err
			}
			dst = append(dst, chatMessage{Role: "tool", ToolCallID: b.ToolResult.ToolUseID, Content: text})
		case provider.ReasoningBlock, provider.CachePointBlock:
			// Earlier reasoning and cache hints have no Chat Completions form.
		case provider.DocumentBlock:
			return nil, c.unsupported("document blocks")
		default:
			return nil, c.unsupported(fmt.Sprintf("%s blocks", b.Type))
		}
	}
	if len(parts) == 0 && len(calls) == 0 {
		return dst, nil
	}
	msg := chatMessage{Role: string(m.Role), ToolCalls: calls}
	switch {
	case len(parts) == 0:
		msg.Content = nil // an assistant turn of tool calls only
	case allText(parts):
		var sb strings.Builder
		for _, p := range parts {
			sb.WriteString(p.Text)
		}
		msg.Content = sb.String()
	default:
		msg.Content = parts
	}
	return append(dst, msg), nil
}

func allText(ps []contentPart) bool {
	for _, p := range ps {
		if p.Type != "text" {
			return false
		}
	}
	return true
}

func (c *Client) dataURL(im *provider.Image) (string, error) {
	if im == nil || len(im.Data) == 0 {
		return "", c.unsupported("images by location (send the bytes inline)")
	}
	mt, ok := MediaType(im.Format)
	if !ok {
		return "", fault.Newf(fault.Invalid, "Image format %q is not supported.", im.Format)
	}
	return "data:" + mt + ";base64," + base64.StdEncoding.EncodeToString(im.Data), nil
}

// toolResultText flattens a tool result to text: text blocks as they are,
// JSON blocks as their JSON.
func (c *Client) toolResultText(r *provider.ToolResult) (string, error) {
	var sb strings.Builder
	for _, b := range r.Content {
		switch b.Type {
		case provider.TextBlock:
			sb.WriteString(b.Text)
		case provider.JSONBlock:
			sb.Write(b.JSON)
		default:
			return "", c.unsupported(fmt.Sprintf("%s blocks in tool results", b.Type))
		}
	}
	return sb.String(), nil
}

// StopReason maps an OpenAI finish_reason. matched is the stop sequence a
// server reported (vLLM's stop_reason), if it is one of the request's.
func StopReason(finish string, matched string) provider.StopReason {
	switch finish {
	case "length":
		return provider.MaxTokens
	case "tool_calls", "function_call":
		return provider.ToolUseStop
	case "content_filter":
		return provider.ContentFilter
	}
	if matched != "" {
		return provider.StopSequence
	}
	return provider.EndTurn
}

// matchedStop returns vLLM's stop_reason when it is one of stops.
func matchedStop(raw json.RawMessage, stops []string) string {
	if len(raw) == 0 {
		return "" // the common case, before s is allocated
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	for _, st := range stops {
		if st == s {
			return s
		}
	}
	return ""
}

// FormatsOutput reports that the server is given Request.Format as
// response_format (json_object or json_schema).
func (c *Client) FormatsOutput() bool { return true }

// Converse sends a non-streaming request.
func (c *Client) Converse(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	body, err := c.buildRequest(req, false)
	if err != nil {
		return nil, err
	}
	var cr chatResponse
	if err := c.HTTP.PostJSON(ctx, "/chat/completions", body, 64<<20, &cr, "a response"); err != nil {
		return nil, err
	}
	if cr.Error != nil {
		return nil, c.streamError(cr.Error)
	}
	if len(cr.Choices) == 0 || cr.Choices[0].Message == nil {
		return nil, fault.Newf(fault.ModelFailed, "The %s backend sent a response without choices.", c.name())
	}
	ch := cr.Choices[0]
	out := &provider.Response{Message: provider.Message{Role: provider.Assistant}}
	m := ch.Message
	if m.ReasoningContent == nil {
		m.ReasoningContent = m.Reasoning
	}
	if m.ReasoningContent != nil && *m.ReasoningContent != "" {
		out.Message.Content = append(out.Message.Content, provider.Block{Type: provider.ReasoningBlock, Reasoning: &provider.Reasoning{Text: *m.ReasoningContent}})
	}
	if m.Content != nil && *m.Content != "" {
		out.Message.Content = append(out.Message.Content, provider.Block{Type: provider.TextBlock, Text: *m.Content})
	} else if m.Refusal != nil && *m.Refusal != "" {
		out.Message.Content = append(out.Message.Content, provider.Block{Type: provider.TextBlock, Text: *m.Refusal})
	}
	for _, tc := range m.ToolCalls {
		if tc.ID == "" {
			tc.ID = NewToolUseID()
		}
		out.Message.Content = append(out.Message.Content, provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: tc.ID, Name: tc.Function.Name, Input: toolInput(tc.Function.Arguments)}})
	}
	if len(out.Message.Content) == 0 {
		out.Message.Content = []provider.Block{{Type: provider.TextBlock, Text: ""}}
	}
	matched := matchedStop(ch.StopReason, req.StopSequences)
	out.StopReason, out.StopSequence = StopReason(ch.FinishReason, matched), matched
	if cr.Usage != nil {
		out.Usage = provider.Usage{InputTokens: cr.Usage.PromptTokens, OutputTokens: cr.Usage.CompletionTokens}
	}
	out.Logprobs = ch.Logprobs.canonical()
	return out, nil
}

// canonical maps OpenAI's logprobs.content to canonical entries (nil
// when absent). A token's bytes, when given, are its exact bytes.
func (l *choiceLogprobs) canonical() []provider.TokenLogprob {
	if l == nil || len(l.Content) == 0 {
		return nil
	}
	out := make([]provider.TokenLogprob, len(l.Content))
	for i, e := range l.Content {
		out[i] = provider.TokenLogprob{Token: e.token(), Logprob: e.Logprob}
		for _, t := range e.TopLogprobs {
			out[i].Top = append(out[i].Top, provider.TopLogprob{Token: t.token(), Logprob: t.Logprob})
		}
	}
	return out
}

func (e *logprobEntry) token() string {
	if len(e.Bytes) == 0 {
		return e.Token
	}
	b := make([]byte, len(e.Bytes))
	for i, v := range e.Bytes {
		b[i] = byte(v)
	}
	return string(b)
}

// ReportsLogprobs reports that the server is asked for logprobs and
// top_logprobs and its answer's are returned.
func (c *Client) ReportsLogprobs() bool { return true }

// toolInput returns the arguments as JSON, {} when empty.
func toolInput(args string) json.RawMessage {
	if strings.TrimSpace(args) == "" {
		return json.RawMessage("{}")
	}
	return json.RawMessage(args)
}

// streamError maps an error object sent with a 200 status (in a body or a
// stream).
func (c *Client) streamError(e *apiError) error {
	typ := e.Type
	if s, ok := e.Code.(string); ok && s != "" {
		typ = s
	}
	kind := fault.ModelFailed
	switch {
	case strings.Contains(typ, "rate_limit"):
		kind = fault.Throttled
	case strings.Contains(typ, "invalid_request"):
		kind = fault.Invalid
	case strings.Contains(typ, "overloaded") || strings.Contains(typ, "unavailable"):
		kind = fault.Unavailable
	}
	if !safeType.MatchString(typ) {
		typ = "error"
	}
	return fault.Wrap(kind, errors.New(c.HTTP.Redact(Truncate(e.Message, 512))), fmt.Sprintf("The %s backend reported an error (%s).", c.name(), typ))
}

// TemplatesChat reports true: Chat Completions renders every model's
// conversation through its own template, so a raw text-completion prompt
// reaches it as the chat turns it was written as (adapt's prompt-as-chat).
func (c *Client) TemplatesChat(context.Context, string) bool { return true }
