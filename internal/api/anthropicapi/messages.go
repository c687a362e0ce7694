package anthropicapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/outcrop/outcrop/internal/api/dialect"
	"github.com/outcrop/outcrop/internal/provider"
)

// Wire types of the Messages API, as a server reads and writes them.
// (provider/anthropic has the client side, unexported.)
type (
	// OutputConfig is the Messages API's output configuration; only its
	// format (structured outputs) is read.
	OutputConfig struct {
		Format *OutputFormat `json:"format"`
	}
	// OutputFormat asks for a JSON answer that follows a schema.
	OutputFormat struct {
		Type   string          `json:"type"`
		Schema json.RawMessage `json:"schema"`
	}

	// MessagesRequest is the body of POST /v1/messages.
	MessagesRequest struct {
		Model         string          `json:"model"`
		MaxTokens     *int            `json:"max_tokens"`
		Messages      []InputMessage  `json:"messages"`
		System        json.RawMessage `json:"system"` // string or []Block
		StopSequences []string        `json:"stop_sequences"`
		Temperature   *float64        `json:"temperature"`
		TopP          *float64        `json:"top_p"`
		TopK          *int            `json:"top_k"`
		Stream        bool            `json:"stream"`
		Tools         []Tool          `json:"tools"`
		ToolChoice    *ToolChoice     `json:"tool_choice"`
		Thinking      json.RawMessage `json:"thinking"`
		Metadata      json.RawMessage `json:"metadata"`
		// OutputConfig carries structured outputs: format {type:
		// "json_schema", schema} (output_format is its older spelling).
		OutputConfig *OutputConfig `json:"output_config"`
		OutputFormat *OutputFormat `json:"output_format"`
	}
	// InputMessage is one turn of the conversation.
	InputMessage struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"` // string or []Block
	}
	// Block is a content block in a request or response.
	Block struct {
		Type string `json:"type"`
		// text
		Text *string `json:"text,omitempty"`
		// image, document
		Source *Source `json:"source,omitempty"`
		Title  string  `json:"title,omitempty"`
		// tool_use
		ID    string          `json:"id,omitempty"`
		Name  string          `json:"name,omitempty"`
		Input json.RawMessage `json:"input,omitempty"`
		// tool_result
		ToolUseID string          `json:"tool_use_id,omitempty"`
		Content   json.RawMessage `json:"content,omitempty"` // string or []Block
		IsError   bool            `json:"is_error,omitempty"`
		// thinking, redacted_thinking
		Thinking  *string `json:"thinking,omitempty"`
		Signature *string `json:"signature,omitempty"`
		Data      string  `json:"data,omitempty"`
	}
	// Source is where an image's or document's bytes are.
	Source struct {
		Type      string `json:"type"` // base64, text, url
		MediaType string `json:"media_type,omitempty"`
		Data      string `json:"data,omitempty"`
		URL       string `json:"url,omitempty"`
	}
	// Tool is a client tool.
	Tool struct {
		Type        string          `json:"type,omitempty"`
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		InputSchema json.RawMessage `json:"input_schema"`
	}
	// ToolChoice constrains tool use.
	ToolChoice struct {
		Type                   string `json:"type"`
		Name                   string `json:"name,omitempty"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
	}

	// Message is the response of a call without streaming.
	Message struct {
		ID           string  `json:"id"`
		Type         string  `json:"type"`
		Role         string  `json:"role"`
		Model        string  `json:"model"`
		Content      []Block `json:"content"`
		StopReason   *string `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
		Usage        Usage   `json:"usage"`
	}
	// Usage counts tokens.
	Usage struct {
		InputTokens              int `json:"input_tokens"`
		OutputTokens             int `json:"output_tokens"`
		CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	}
)

// DecodeMessages decodes a Messages body into a canonical request.
func DecodeMessages(body []byte) (*MessagesRequest, *provider.Request, error) {
	var mr MessagesRequest
	if err := dialect.DecodeJSON(body, &mr); err != nil {
		return nil, nil, err
	}
	req, err := mr.Canonical(true)
	return &mr, req, err
}

// Canonical maps the request to provider types. needMax is false for
// count_tokens, which takes no max_tokens.
func (mr *MessagesRequest) Canonical(needMax bool) (*provider.Request, error) {
	if mr.Model == "" {
		return nil, dialect.Invalid("model", "Field required")
	}
	req := &provider.Request{StopSequences: mr.StopSequences, Temperature: mr.Temperature, TopP: mr.TopP, TopK: mr.TopK}
	format := mr.OutputFormat
	if mr.OutputConfig != nil && mr.OutputConfig.Format != nil {
		format = mr.OutputConfig.Format
	}
	if format != nil {
		if format.Type != "json_schema" {
			return nil, dialect.Invalid("output_config.format.type", fmt.Sprintf("output_config.format.type: Input should be 'json_schema', not %q", format.Type))
		}
		var v map[string]any
		if json.Unmarshal(format.Schema, &v) != nil {
			return nil, dialect.Invalid("output_config.format.schema", "output_config.format.schema: Input should be a valid JSON schema object")
		}
		req.Format = &provider.OutputFormat{Type: provider.JSONSchema, Name: "output", Schema: format.Schema, Strict: true}
	}
	switch {
	case mr.MaxTokens != nil && *mr.MaxTokens < 1:
		return nil, dialect.Invalid("max_tokens", "max_tokens: Input should be greater than or equal to 1")
	case mr.MaxTokens != nil:
		req.MaxTokens = *mr.MaxTokens
	case needMax:
		return nil, dialect.Invalid("max_tokens", "Field required")
	}
	if t := mr.Temperature; t != nil && (*t < 0 || *t > 1) {
		return nil, dialect.Invalid("temperature", "Input should be less than or equal to 1 and greater than or equal to 0")
	}
	if p := mr.TopP; p != nil && (*p < 0 || *p > 1) {
		return nil, dialect.Invalid("top_p", "Input should be less than or equal to 1 and greater than or equal to 0")
	}
	if len(mr.Thinking) > 0 && string(mr.Thinking) != "null" {
		// Extended thinking is a model-specific field: backends that
		// understand it (Anthropic upstreams) receive it as is.
		extra, _ := json.Marshal(map[string]json.RawMessage{"thinking": mr.Thinking})
		req.Extra = extra
	}
	sys, err := system(mr.System)
	if err != nil {
		return nil, err
	}
	req.System = sys
	if len(mr.Messages) == 0 {
		return nil, dialect.Invalid("messages", "messages: at least one message is required")
	}
	for i, m := range mr.Messages {
		at := fmt.Sprintf("messages.%d", i)
		var role provider.Role
		switch m.Role {
		case "user":
			role = provider.User
		case "assistant":
			role = provider.Assistant
		default:
			return nil, dialect.Invalid(at+".role", fmt.Sprintf("%s.role: Input should be 'user' or 'assistant'", at))
		}
		bs, err := content(m.Content, at+".content", role == provider.User)
		if err != nil {
			return nil, err
		}
		if len(bs) == 0 && !(role == provider.Assistant && i == len(mr.Messages)-1) {
			return nil, dialect.Invalid(at+".content", fmt.Sprintf("%s: all messages must have non-empty content except for the optional final assistant message", at))
		}
		if len(bs) > 0 {
			req.Messages = append(req.Messages, provider.Message{Role: role, Content: bs})
		}
	}
	for i, t := range mr.Tools {
		if t.Type != "" && t.Type != "custom" {
			return nil, dialect.Invalid(fmt.Sprintf("tools.%d.type", i), fmt.Sprintf("tools.%d: server tool %q is not supported; define client tools with name and input_schema.", i, t.Type))
		}
		if t.Name == "" {
			return nil, dialect.Invalid(fmt.Sprintf("tools.%d.name", i), fmt.Sprintf("tools.%d.name: Field required", i))
		}
		schema := t.InputSchema
		if len(schema) == 0 || string(schema) == "null" {
			return nil, dialect.Invalid(fmt.Sprintf("tools.%d.input_schema", i), fmt.Sprintf("tools.%d.input_schema: Field required", i))
		}
		req.Tools = append(req.Tools, provider.Tool{Name: t.Name, Description: t.Description, Schema: schema})
	}
	if tc := mr.ToolChoice; tc != nil {
		switch tc.Type {
		case "auto":
		case "any":
			req.ToolChoice.Mode = provider.ToolAny
		case "none":
			req.ToolChoice.Mode = provider.ToolNone
		case "tool":
			if tc.Name == "" {
				return nil, dialect.Invalid("tool_choice.name", "tool_choice.name: Field required")
			}
			req.ToolChoice = provider.ToolChoice{Mode: provider.ToolOne, Name: tc.Name}
		default:
			return nil, dialect.Invalid("tool_choice.type", "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
		}
		if tc.Type != "auto" && tc.Type != "none" && len(req.Tools) == 0 {
			return nil, dialect.Invalid("tool_choice", "tool_choice: tool_choice may only be specified while providing tools.")
		}
	}
	return req, nil
}

func system(raw json.RawMessage) ([]provider.Block, error) {
	if bs, ok := provider.StringBlocks(raw); ok {
		return bs, nil
	}
	var bs []Block
	if err := json.Unmarshal(raw, &bs); err != nil {
		return nil, dialect.Invalid("system", "system: Input should be a valid string or a list of text blocks")
	}
	var out []provider.Block
	for i, b := range bs {
		if b.Type != "text" || b.Text == nil {
			return nil, dialect.Invalid(fmt.Sprintf("system.%d.type", i), fmt.Sprintf("system.%d.type: Input should be 'text'", i))
		}
		out = append(out, provider.Block{Type: provider.TextBlock, Text: *b.Text})
	}
	return out, nil
}

// content decodes a message's content: a string or an array of blocks.
func content(raw json.RawMessage, at string, user bool) ([]provider.Block, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, dialect.Invalid(at, at+": Field required")
	}
	if bs, ok := provider.StringBlocks(raw); ok {
		return bs, nil
	}
	var bs []Block
	if err := json.Unmarshal(raw, &bs); err != nil {
		return nil, dialect.Invalid(at, at+": Input should be a valid string or a list of content blocks")
	}
	out := make([]provider.Block, 0, len(bs))
	for j, b := range bs {
		pb, err := block(b, fmt.Sprintf("%s.%d", at, j), user)
		if err != nil {
			return nil, err
		}
		if pb.Type != "" {
			out = append(out, pb)
		}
	}
	return out, nil
}

func block(b Block, at string, user bool) (provider.Block, error) {
	switch b.Type {
	case "text":
		if b.Text == nil {
			return provider.Block{}, dialect.Invalid(at+".text", at+".text: Field required")
		}
		return provider.Block{Type: provider.TextBlock, Text: *b.Text}, nil
	case "image":
		im, err := image(b.Source, at)
		if err != nil {
			return provider.Block{}, err
		}
		return provider.Block{Type: provider.ImageBlock, Image: im}, nil
	case "document":
		d, err := document(b, at)
		if err != nil {
			return provider.Block{}, err
		}
		return provider.Block{Type: provider.DocumentBlock, Document: d}, nil
	case "tool_use":
		if user {
			return provider.Block{}, dialect.Invalid(at+".type", at+": tool_use blocks may only appear in assistant messages")
		}
		in := b.Input
		if len(in) == 0 || string(in) == "null" {
			in = json.RawMessage("{}")
		}
		return provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: b.ID, Name: b.Name, Input: in}}, nil
	case "tool_result":
		if !user {
			return provider.Block{}, dialect.Invalid(at+".type", at+": tool_result blocks may only appear in user messages")
		}
		if b.ToolUseID == "" {
			return provider.Block{}, dialect.Invalid(at+".tool_use_id", at+".tool_use_id: Field required")
		}
		tr := &provider.ToolResult{ToolUseID: b.ToolUseID, Status: "success"}
		if b.IsError {
			tr.Status = "error"
		}
		if len(b.Content) > 0 && string(b.Content) != "null" {
			inner, err := content(b.Content, at+".content", true)
			if err != nil {
				return provider.Block{}, err
			}
			tr.Content = inner
		}
		return provider.Block{Type: provider.ToolResultBlock, ToolResult: tr}, nil
	case "thinking":
		r := &provider.Reasoning{}
		if b.Thinking != nil {
			r.Text = *b.Thinking
		}
		if b.Signature != nil {
			r.Signature = *b.Signature
		}
		return provider.Block{Type: provider.ReasoningBlock, Reasoning: r}, nil
	case "redacted_thinking":
		data, err := base64.StdEncoding.DecodeString(b.Data)
		if err != nil {
			data = []byte(b.Data)
		}
		return provider.Block{Type: provider.ReasoningBlock, Reasoning: &provider.Reasoning{Redacted: data}}, nil
	}
	return provider.Block{}, dialect.Invalid(at+".type", fmt.Sprintf("%s.type: unsupported content block type %q", at, b.Type))
}

func image(s *Source, at string) (*provider.Image, error) {
	if s == nil {
		return nil, dialect.Invalid(at+".source", at+".source: Field required")
	}
	if s.Type != "base64" {
		return nil, dialect.Invalid(at+".source.type", at+".source.type: only base64 image sources are supported; Outcrop does not fetch URLs")
	}
	f, ok := dialect.ImageFormat(s.MediaType)
	if !ok {
		return nil, dialect.Invalid(at+".source.media_type", at+".source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'")
	}
	data, err := base64.StdEncoding.DecodeString(s.Data)
	if err != nil {
		return nil, dialect.Invalid(at+".source.data", at+".source.data: invalid base64 data")
	}
	return &provider.Image{Format: f, Data: data}, nil
}

func document(b Block, at string) (*provider.Document, error) {
	s := b.Source
	if s == nil {
		return nil, dialect.Invalid(at+".source", at+".source: Field required")
	}
	name := b.Title
	if name == "" {
		name = "document"
	}
	switch s.Type {
	case "text":
		return &provider.Document{Format: "txt", Name: name, Text: s.Data}, nil
	case "base64":
		f, ok := dialect.DocumentFormat(s.MediaType)
		if !ok {
			return nil, dialect.Invalid(at+".source.media_type", fmt.Sprintf("%s.source.media_type: unsupported document type %q", at, s.MediaType))
		}
		data, err := base64.StdEncoding.DecodeString(s.Data)
		if err != nil {
			return nil, dialect.Invalid(at+".source.data", at+".source.data: invalid base64 data")
		}
		return &provider.Document{Format: f, Name: name, Data: data}, nil
	}
	return nil, dialect.Invalid(at+".source.type", at+".source.type: only base64 and text document sources are supported")
}

func stopReason(r provider.StopReason) *string {
	var s string
	switch r {
	case provider.MaxTokens:
		s = "max_tokens"
	case provider.ToolUseStop:
		s = "tool_use"
	case provider.StopSequence:
		s = "stop_sequence"
	case provider.ContentFilter:
		s = "refusal"
	case provider.ContextWindow:
		s = "model_context_window_exceeded"
	default:
		s = "end_turn"
	}
	return &s
}

func str(s string) *string { return &s }

func encodeMessage(resp *provider.Response, id, model string) *Message {
	out := &Message{ID: id, Type: "message", Role: "assistant", Model: model, Content: []Block{},
		StopReason: stopReason(resp.StopReason),
		Usage:      Usage{InputTokens: resp.Usage.InputTokens, OutputTokens: resp.Usage.OutputTokens}}
	if resp.StopSequence != "" {
		out.StopSequence = str(resp.StopSequence)
	}
	for _, b := range resp.Message.Content {
		switch b.Type {
		case provider.TextBlock:
			out.Content = append(out.Content, Block{Type: "text", Text: str(b.Text)})
		case provider.ToolUseBlock:
			in := b.ToolUse.Input
			if len(in) == 0 {
				in = json.RawMessage("{}")
			}
			out.Content = append(out.Content, Block{Type: "tool_use", ID: b.ToolUse.ID, Name: b.ToolUse.Name, Input: in})
		case provider.ReasoningBlock:
			if r := b.Reasoning; r != nil && len(r.Redacted) > 0 {
				out.Content = append(out.Content, Block{Type: "redacted_thinking", Data: base64.StdEncoding.EncodeToString(r.Redacted)})
			} else if r != nil {
				out.Content = append(out.Content, Block{Type: "thinking", Thinking: str(r.Text), Signature: str(r.Signature)})
			}
		}
	}
	return out
}

func (h *Handler) messages(w http.ResponseWriter, r *http.Request) error {
	var mr MessagesRequest
	if err := dialect.ReadJSON(r, &mr); err != nil {
		return err
	}
	req, err := mr.Canonical(true)
	if err != nil {
		return err
	}
	t, err := h.m.ResolveChat(r.Context(), mr.Model, mr.Stream, req)
	if err != nil {
		return err
	}
	// Converse's adaptations apply (or, strict, refuse) as they do there.
	if req, err = h.m.AdaptChat(w, r, t, req); err != nil {
		return err
	}
	id := newID(r, "msg_")
	if mr.Stream {
		return h.stream(w, r, t, req, id, mr.Model)
	}
	resp, err := h.m.Converse(r.Context(), t, req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, encodeMessage(resp, id, mr.Model))
}

func (h *Handler) countTokens(w http.ResponseWriter, r *http.Request) error {
	var mr MessagesRequest
	if err := dialect.ReadJSON(r, &mr); err != nil {
		return err
	}
	req, err := mr.Canonical(false)
	if err != nil {
		return err
	}
	t, err := h.m.Resolve(r.Context(), mr.Model, dialect.ActionCountTokens)
	if err != nil {
		return err
	}
	n, err := h.m.CountTokens(r.Context(), t, req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		InputTokens int `json:"input_tokens"`
	}{n})
}
