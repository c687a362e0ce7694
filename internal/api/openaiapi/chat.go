package openaiapi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/outcrop/outcrop/internal/api/dialect"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// Wire types of the Chat Completions API, as a server reads and writes
// them. (provider/openaicompat has the client side, unexported and shaped
// for the opposite direction.)
type (
	// ChatRequest is the body of POST /v1/chat/completions.
	ChatRequest struct {
		Model               string          `json:"model"`
		Messages            []ChatMessage   `json:"messages"`
		MaxTokens           *int            `json:"max_tokens"`
		MaxCompletionTokens *int            `json:"max_completion_tokens"`
		Temperature         *float64        `json:"temperature"`
		TopP                *float64        `json:"top_p"`
		Seed                *int64          `json:"seed"`
		Stop                Strings         `json:"stop"`
		N                   *int            `json:"n"`
		Stream              bool            `json:"stream"`
		StreamOptions       *StreamOptions  `json:"stream_options"`
		Tools               []Tool          `json:"tools"`
		ToolChoice          json.RawMessage `json:"tool_choice"`
		ParallelToolCalls   *bool           `json:"parallel_tool_calls"`
		ResponseFormat      *ResponseFormat `json:"response_format"`
		Logprobs            *bool           `json:"logprobs"`
		TopLogprobs         *int            `json:"top_logprobs"`
		Modalities          []string        `json:"modalities"`
		Audio               json.RawMessage `json:"audio"`
	}
	// StreamOptions are the options of a streamed call.
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	}
	// ChatMessage is one message of a request.
	ChatMessage struct {
		Role       string          `json:"role"`
		Content    json.RawMessage `json:"content"` // string, []ContentPart or null
		Name       string          `json:"name,omitempty"`
		ToolCalls  []ToolCall      `json:"tool_calls,omitempty"`
		ToolCallID string          `json:"tool_call_id,omitempty"`
	}
	// ContentPart is one part of a message's content.
	ContentPart struct {
		Type     string    `json:"type"`
		Text     string    `json:"text,omitempty"`
		Refusal  string    `json:"refusal,omitempty"`
		ImageURL *ImageURL `json:"image_url,omitempty"`
		File     *File     `json:"file,omitempty"`
	}
	// ImageURL is an image part's location (a base64 data URL here).
	ImageURL struct {
		URL    string `json:"url"`
		Detail string `json:"detail,omitempty"`
	}
	// File is a file part given inline.
	File struct {
		FileData string `json:"file_data,omitempty"`
		FileID   string `json:"file_id,omitempty"`
		Filename string `json:"filename,omitempty"`
	}
	// Tool is a function the model may call.
	Tool struct {
		Type     string   `json:"type"`
		Function Function `json:"function"`
	}
	// Function describes a function tool.
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
		Strict      *bool           `json:"strict,omitempty"`
	}
	// ToolCall is a model's call of a function.
	ToolCall struct {
		Index    *int         `json:"index,omitempty"`
		ID       string       `json:"id,omitempty"`
		Type     string       `json:"type,omitempty"`
		Function FunctionCall `json:"function"`
	}
	// FunctionCall names the function and its JSON arguments.
	FunctionCall struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	}
	// ResponseFormat constrains the output format.
	// Chat Completions nests the schema under json_schema; the
	// Responses API's text.format has its members beside type.
	ResponseFormat struct {
		Type       string      `json:"type"`
		JSONSchema *JSONSchema `json:"json_schema,omitempty"`
		// The Responses API's members.
		Name        string          `json:"name,omitempty"`
		Description string          `json:"description,omitempty"`
		Schema      json.RawMessage `json:"schema,omitempty"`
		Strict      *bool           `json:"strict,omitempty"`
	}

	// JSONSchema is a json_schema response format's schema.
	JSONSchema struct {
		Name        string          `json:"name,omitempty"`
		Description string          `json:"description,omitempty"`
		Schema      json.RawMessage `json:"schema,omitempty"`
		Strict      *bool           `json:"strict,omitempty"`
	}

	// ChatCompletion is the response of a call without streaming.
	ChatCompletion struct {
		ID                string       `json:"id"`
		Object            string       `json:"object"`
		Created           int64        `json:"created"`
		Model             string       `json:"model"`
		Choices           []ChatChoice `json:"choices"`
		Usage             *Usage       `json:"usage"`
		SystemFingerprint *string      `json:"system_fingerprint"`
	}
	// ChatChoice is one choice of a response or chunk.
	ChatChoice struct {
		Index        int             `json:"index"`
		Message      *AnswerMsg      `json:"message,omitempty"`
		Delta        *AnswerMsg      `json:"delta,omitempty"`
		Logprobs     *ChoiceLogprobs `json:"logprobs"`
		FinishReason *FinishReason   `json:"finish_reason"`
	}
	// ChoiceLogprobs are the log probabilities of a choice's tokens (or,
	// in a chunk, of the delta's).
	ChoiceLogprobs struct {
		Content []LogprobEntry `json:"content"`
		Refusal []LogprobEntry `json:"refusal"`
	}
	// LogprobEntry is one token's log probability.
	LogprobEntry struct {
		Token       string         `json:"token"`
		Logprob     float64        `json:"logprob"`
		Bytes       []int          `json:"bytes"`
		TopLogprobs []LogprobEntry `json:"top_logprobs"`
	}
	// AnswerMsg is the assistant's message (or a delta of it).
	AnswerMsg struct {
		Role             string     `json:"role,omitempty"`
		Content          *string    `json:"content,omitempty"`
		ReasoningContent *string    `json:"reasoning_content,omitempty"`
		Refusal          *string    `json:"refusal,omitempty"`
		ToolCalls        []ToolCall `json:"tool_calls,omitempty"`
	}
	// FinishReason is why a choice ended.
	FinishReason string
	// Usage counts tokens.
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	}
	// ChatChunk is one streamed chunk.
	ChatChunk struct {
		ID                string       `json:"id"`
		Object            string       `json:"object"`
		Created           int64        `json:"created"`
		Model             string       `json:"model"`
		Choices           []ChatChoice `json:"choices"`
		Usage             *Usage       `json:"usage,omitempty"`
		SystemFingerprint *string      `json:"system_fingerprint"`
	}
)

// Strings is a JSON string or array of strings.
type Strings []string

// UnmarshalJSON accepts "s", ["s", ...] or null.
func (s *Strings) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = nil
		return nil
	}
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = Strings{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return &dialect.BadField{Field: "stop", Msg: "Invalid value for 'stop': expected a string or an array of strings."}
	}
	*s = many
	return nil
}

func finishReason(r provider.StopReason) *FinishReason {
	f := finishReasonOf(r)
	return &f
}

func finishReasonOf(r provider.StopReason) FinishReason {
	switch r {
	case provider.MaxTokens, provider.ContextWindow:
		return "length"
	case provider.ToolUseStop:
		return "tool_calls"
	case provider.ContentFilter:
		return "content_filter"
	}
	return "stop"
}

// MaxChoices bounds n: each choice is a generation of its own.
const MaxChoices = 8

// choices returns n, 1 when absent.
func (cr *ChatRequest) choices() int {
	if cr.N == nil {
		return 1
	}
	return *cr.N
}

// choiceRequest is req for choice i of several: with a seed, choice i
// samples with seed+i, so that the choices differ and each is
// reproducible.
func choiceRequest(req *provider.Request, i int) *provider.Request {
	if i == 0 || req.Seed == nil {
		return req
	}
	r := *req
	seed := *req.Seed + int64(i)
	r.Seed = &seed
	return &r
}

// DecodeChat decodes a Chat Completions body into a canonical request.
func DecodeChat(body []byte) (*ChatRequest, *provider.Request, error) {
	var cr ChatRequest
	if err := dialect.DecodeJSON(body, &cr); err != nil {
		return nil, nil, err
	}
	req, err := cr.Canonical()
	return &cr, req, err
}

// Canonical maps the request to provider types, rejecting what Outcrop
// cannot honour rather than ignoring it.
func (cr *ChatRequest) Canonical() (*provider.Request, error) {
	if cr.Model == "" {
		return nil, dialect.Invalid("model", "you must provide a model parameter")
	}
	if len(cr.Messages) == 0 {
		return nil, dialect.Invalid("messages", "Invalid 'messages': empty array. Expected an array with minimum length 1.")
	}
	if cr.N != nil && (*cr.N < 1 || *cr.N > MaxChoices) {
		return nil, dialect.Invalid("n", fmt.Sprintf("Invalid 'n': %d. Expected a value between 1 and %d.", *cr.N, MaxChoices))
	}
	logprobs := cr.Logprobs != nil && *cr.Logprobs
	top := 0
	if cr.TopLogprobs != nil {
		top = *cr.TopLogprobs
		if top < 0 || top > 20 {
			return nil, dialect.Invalid("top_logprobs", fmt.Sprintf("Invalid 'top_logprobs': %d. Expected a value between 0 and 20.", top))
		}
		if top > 0 && !logprobs {
			return nil, dialect.Invalid("top_logprobs", "Invalid 'top_logprobs': 'logprobs' must be true when 'top_logprobs' is set.")
		}
	}
	for _, m := range cr.Modalities {
		if m != "text" {
			return nil, dialect.Invalid("modalities", fmt.Sprintf("Output modality %q is not supported; only text.", m))
		}
	}
	if len(cr.Audio) > 0 && string(cr.Audio) != "null" {
		return nil, dialect.Invalid("audio", "Audio output is not supported.")
	}
	format, err := outputFormat(cr.ResponseFormat, "response_format")
	if err != nil {
		return nil, err
	}
	req := &provider.Request{Temperature: cr.Temperature, TopP: cr.TopP, Seed: cr.Seed, StopSequences: cr.Stop, Format: format,
		Logprobs: logprobs, TopLogprobs: top}
	if err := checkSampling(cr.Temperature, cr.TopP); err != nil {
		return nil, err
	}
	switch {
	case cr.MaxCompletionTokens != nil:
		if *cr.MaxCompletionTokens < 1 {
			return nil, dialect.Invalid("max_completion_tokens", "Invalid 'max_completion_tokens': integer below minimum value. Expected a value >= 1.")
		}
		req.MaxTokens = *cr.MaxCompletionTokens
	case cr.MaxTokens != nil:
		if *cr.MaxTokens < 1 {
			return nil, dialect.Invalid("max_tokens", "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1.")
		}
		req.MaxTokens = *cr.MaxTokens
	}
	req.Messages = make([]provider.Message, 0, len(cr.Messages))
	texts := &textBlocks{n: len(cr.Messages)}
	for i, m := range cr.Messages {
		if err := addMessage(req, m, i, texts); err != nil {
			return nil, err
		}
	}
	if len(req.Messages) == 0 {
		return nil, dialect.Invalid("messages", "The messages must include at least one user message.")
	}
	tools, err := canonicalTools(cr.Tools)
	if err != nil {
		return nil, err
	}
	req.Tools = tools
	if req.ToolChoice, err = toolChoice(cr.ToolChoice, len(tools) > 0); err != nil {
		return nil, err
	}
	return req, nil
}

func checkSampling(temp, topP *float64) error {
	if temp != nil && (*temp < 0 || *temp > 2) {
		return dialect.Invalid("temperature", fmt.Sprintf("Invalid 'temperature': %g. Expected a value between 0 and 2.", *temp))
	}
	if topP != nil && (*topP < 0 || *topP > 1) {
		return dialect.Invalid("top_p", fmt.Sprintf("Invalid 'top_p': %g. Expected a value between 0 and 1.", *topP))
	}
	return nil
}

// outputFormat maps a response format to the canonical one: nil for free
// text. Whether the model's backend can honour it is checked when the
// model is resolved (dialect.CheckChat).
func outputFormat(rf *ResponseFormat, field string) (*provider.OutputFormat, error) {
	if rf == nil || rf.Type == "" || rf.Type == "text" {
		return nil, nil
	}
	switch rf.Type {
	case "json_object":
		return &provider.OutputFormat{Type: provider.JSONObject}, nil
	case "json_schema":
		js := JSONSchema{Name: rf.Name, Description: rf.Description, Schema: rf.Schema, Strict: rf.Strict}
		if rf.JSONSchema != nil { // Chat Completions' nesting
			js = *rf.JSONSchema
		}
		if js.Name == "" {
			return nil, dialect.Invalid(field+".json_schema.name", "Missing required parameter: '"+field+".json_schema.name'.")
		}
		f := &provider.OutputFormat{Type: provider.JSONSchema, Name: js.Name, Schema: js.Schema, Strict: js.Strict != nil && *js.Strict}
		if len(js.Schema) > 0 {
			var v map[string]any
			if err := json.Unmarshal(js.Schema, &v); err != nil {
				return nil, dialect.Invalid(field+".json_schema.schema", "Invalid schema for response_format '"+js.Name+"': the schema must be a JSON object.")
			}
		}
		return f, nil
	}
	return nil, dialect.Invalid(field+".type", fmt.Sprintf("Invalid value for '%s.type': %q. Supported values are: 'text', 'json_object' and 'json_schema'.", field, rf.Type))
}

// addMessage appends one Chat Completions message. System and developer
// messages become the system prompt; tool messages become tool results in
// a user turn; consecutive turns of one role are merged, since Converse
// backends require roles to alternate.
func addMessage(req *provider.Request, m ChatMessage, i int, texts *textBlocks) error {
	// at is only needed in error messages: the common case makes no string.
	at := func() string { return "messages[" + strconv.Itoa(i) + "]" }
	switch m.Role {
	case "system", "developer":
		parts, err := contentParts(m.Content, at, false, texts)
		if err != nil {
			return err
		}
		if req.System == nil {
			req.System = parts // contentParts made it for this request
		} else {
			req.System = append(req.System, parts...)
		}
		return nil
	case "user":
		parts, err := contentParts(m.Content, at, true, texts)
		if err != nil {
			return err
		}
		appendTurn(req, provider.User, parts)
	case "assistant":
		parts, err := contentParts(m.Content, at, false, texts)
		if err != nil {
			return err
		}
		for j, c := range m.ToolCalls {
			tu, err := toolUse(c, fmt.Sprintf("%s.tool_calls[%d]", at(), j))
			if err != nil {
				return err
			}
			parts = append(parts, provider.Block{Type: provider.ToolUseBlock, ToolUse: tu})
		}
		if len(parts) == 0 {
			return dialect.Invalid(at()+".content", fmt.Sprintf("Invalid '%s': an assistant message must have content or tool_calls.", at()))
		}
		appendTurn(req, provider.Assistant, parts)
	case "tool":
		if m.ToolCallID == "" {
			return dialect.Invalid(at()+".tool_call_id", fmt.Sprintf("Missing required parameter: '%s.tool_call_id'.", at()))
		}
		parts, err := contentParts(m.Content, at, false, texts)
		if err != nil {
			return err
		}
		appendTurn(req, provider.User, []provider.Block{{Type: provider.ToolResultBlock,
			ToolResult: &provider.ToolResult{ToolUseID: m.ToolCallID, Content: parts}}})
	case "function":
		return dialect.Invalid(at()+".role", "The deprecated 'function' role is not supported; use tools and 'tool' messages.")
	default:
		return dialect.Invalid(at()+".role", fmt.Sprintf("Invalid value: '%s'. Supported values are: 'system', 'developer', 'user', 'assistant' and 'tool'.", m.Role))
	}
	return nil
}

func appendTurn(req *provider.Request, role provider.Role, bs []provider.Block) {
	if n := len(req.Messages); n > 0 && req.Messages[n-1].Role == role {
		req.Messages[n-1].Content = append(req.Messages[n-1].Content, bs...)
		return
	}
	req.Messages = append(req.Messages, provider.Message{Role: role, Content: bs})
}

// textBlocks hands out the one-block contents of a request's messages with
// string content (the common case) from one allocation for them all. Each
// has a capacity of one, so that appending to it copies it elsewhere.
type textBlocks struct {
	free []provider.Block
	n    int // the messages still to come, which the next allocation holds
}

func (t *textBlocks) text(s string) []provider.Block {
	if len(t.free) == 0 {
		t.free = make([]provider.Block, max(t.n, 1))
	}
	b := t.free[:1:1]
	t.free = t.free[1:]
	t.n--
	b[0] = provider.Block{Type: provider.TextBlock, Text: s}
	return b
}

// contentParts decodes a content field: a string, an array of parts or
// null. Images and files are allowed in user messages only.
func contentParts(raw json.RawMessage, path func() string, media bool, texts *textBlocks) ([]provider.Block, error) {
	if s, ok := provider.StringText(raw); ok { // as provider.StringBlocks, from texts
		if s == "" {
			return nil, nil
		}
		return texts.text(s), nil
	}
	at := path()
	var parts []ContentPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, dialect.Invalid(at+".content", fmt.Sprintf("Invalid type for '%s.content': expected a string or an array of content parts.", at))
	}
	var out []provider.Block
	for j, p := range parts {
		pat := fmt.Sprintf("%s.content[%d]", at, j)
		switch p.Type {
		case "text":
			out = append(out, provider.Block{Type: provider.TextBlock, Text: p.Text})
		case "refusal":
			out = append(out, provider.Block{Type: provider.TextBlock, Text: p.Refusal})
		case "image_url":
			if !media {
				return nil, dialect.Invalid(pat+".type", fmt.Sprintf("Image content is only supported in user messages ('%s').", pat))
			}
			if p.ImageURL == nil {
				return nil, dialect.Invalid(pat+".image_url", fmt.Sprintf("Missing required parameter: '%s.image_url'.", pat))
			}
			mt, data, ok := dialect.DataURL(p.ImageURL.URL)
			if !ok {
				return nil, dialect.Invalid(pat+".image_url.url", "Images must be given inline as base64 data URLs (data:image/png;base64,...); Outcrop does not fetch URLs.")
			}
			f, ok := dialect.ImageFormat(mt)
			if !ok {
				return nil, dialect.Invalid(pat+".image_url.url", fmt.Sprintf("Unsupported image type %q; use png, jpeg, gif or webp.", mt))
			}
			out = append(out, provider.Block{Type: provider.ImageBlock, Image: &provider.Image{Format: f, Data: data}})
		case "file":
			if !media {
				return nil, dialect.Invalid(pat+".type", fmt.Sprintf("File content is only supported in user messages ('%s').", pat))
			}
			b, err := filePart(p.File, pat)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		case "input_audio":
			return nil, dialect.Invalid(pat+".type", "Audio input is not supported.")
		default:
			return nil, dialect.Invalid(pat+".type", fmt.Sprintf("Invalid value: '%s'. Supported values are: 'text', 'image_url' and 'file'.", p.Type))
		}
	}
	return out, nil
}

func filePart(f *File, at string) (provider.Block, error) {
	if f == nil || f.FileData == "" {
		return provider.Block{}, dialect.Invalid(at+".file.file_data", "Files must be given inline in file_data as a base64 data URL; file IDs are not supported.")
	}
	mt, data, ok := dialect.DataURL(f.FileData)
	if !ok {
		return provider.Block{}, dialect.Invalid(at+".file.file_data", "file_data must be a base64 data URL (data:application/pdf;base64,...).")
	}
	format, ok := dialect.DocumentFormat(mt)
	if !ok {
		return provider.Block{}, dialect.Invalid(at+".file.file_data", fmt.Sprintf("Unsupported file type %q.", mt))
	}
	name := f.Filename
	if name == "" {
		name = "document"
	}
	return provider.Block{Type: provider.DocumentBlock, Document: &provider.Document{Format: format, Name: name, Data: data}}, nil
}

func toolUse(c ToolCall, at string) (*provider.ToolUse, error) {
	if c.Type != "" && c.Type != "function" {
		return nil, dialect.Invalid(at+".type", fmt.Sprintf("Invalid value: '%s'. Supported values are: 'function'.", c.Type))
	}
	args := c.Function.Arguments
	if args == "" {
		args = "{}"
	}
	if !json.Valid([]byte(args)) {
		return nil, dialect.Invalid(at+".function.arguments", fmt.Sprintf("Invalid '%s.function.arguments': not valid JSON.", at))
	}
	return &provider.ToolUse{ID: c.ID, Name: c.Function.Name, Input: json.RawMessage(args)}, nil
}

func canonicalTools(ts []Tool) ([]provider.Tool, error) {
	var out []provider.Tool
	for i, t := range ts {
		if t.Type != "function" {
			return nil, dialect.Invalid(fmt.Sprintf("tools[%d].type", i), fmt.Sprintf("Invalid value: '%s'. Supported values are: 'function'.", t.Type))
		}
		if t.Function.Name == "" {
			return nil, dialect.Invalid(fmt.Sprintf("tools[%d].function.name", i), fmt.Sprintf("Missing required parameter: 'tools[%d].function.name'.", i))
		}
		schema := t.Function.Parameters
		if len(schema) == 0 || string(schema) == "null" {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		out = append(out, provider.Tool{Name: t.Function.Name, Description: t.Function.Description, Schema: schema})
	}
	return out, nil
}

// toolChoice decodes "none" | "auto" | "required" | {"type":"function","function":{"name"}}.
func toolChoice(raw json.RawMessage, haveTools bool) (provider.ToolChoice, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return provider.ToolChoice{}, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "auto":
			return provider.ToolChoice{}, nil
		case "none":
			return provider.ToolChoice{Mode: provider.ToolNone}, nil
		case "required":
			if !haveTools {
				return provider.ToolChoice{}, dialect.Invalid("tool_choice", "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.")
			}
			return provider.ToolChoice{Mode: provider.ToolAny}, nil
		}
		return provider.ToolChoice{}, dialect.Invalid("tool_choice", fmt.Sprintf("Invalid value: '%s'. Supported values are: 'none', 'auto' and 'required'.", s))
	}
	var o struct {
		Type     string `json:"type"`
		Name     string `json:"name"` // the Responses API's flat form
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &o); err != nil || o.Type != "function" || o.Function.Name == "" && o.Name == "" {
		return provider.ToolChoice{}, dialect.Invalid("tool_choice", "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}.")
	}
	if !haveTools {
		return provider.ToolChoice{}, dialect.Invalid("tool_choice", "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.")
	}
	name := o.Function.Name
	if name == "" {
		name = o.Name
	}
	return provider.ToolChoice{Mode: provider.ToolOne, Name: name}, nil
}

func (h *Handler) chat(w http.ResponseWriter, r *http.Request) error {
	var cr ChatRequest
	if err := dialect.ReadJSON(r, &cr); err != nil {
		return err
	}
	req, err := cr.Canonical()
	if err != nil {
		return err
	}
	t, err := h.m.ResolveChat(r.Context(), cr.Model, cr.Stream, req)
	if err != nil {
		return err
	}
	if req, err = h.m.AdaptChat(w, r, t, req); err != nil {
		return err
	}
	id, created := newID(r, "chatcmpl-"), h.m.Now().Unix()
	// n choices are n generations, one after another, charged to the
	// quotas as one request (as one request with n choices is on OpenAI).
	n := cr.choices()
	if cr.Stream {
		cs := &chatStream{sse: dialect.NewSSE(w), id: id, model: cr.Model, created: created,
			usage: cr.StreamOptions != nil && cr.StreamOptions.IncludeUsage, logprobs: req.Logprobs}
		var err error
		for i := 0; i < n && err == nil; i++ {
			cs.begin(i)
			err = h.m.Stream(r.Context(), t, choiceRequest(req, i), cs.event)
		}
		if err == nil {
			err = cs.done()
		}
		return streamError(cs.sse, err)
	}
	var out *ChatCompletion
	for i := range n {
		resp, err := h.m.Converse(r.Context(), t, choiceRequest(req, i))
		if err != nil {
			return err
		}
		c := encodeChat(resp, id, cr.Model, created, req.Logprobs)
		if out == nil {
			out = c
			continue
		}
		// The prompt is counted once, the completions of every choice.
		c.Choices[0].Index = i
		out.Choices = append(out.Choices, c.Choices[0])
		out.Usage.CompletionTokens += c.Usage.CompletionTokens
		out.Usage.TotalTokens += c.Usage.CompletionTokens
	}
	return writeJSON(w, http.StatusOK, out)
}

// choiceLogprobs encodes log probabilities; nil (JSON null) when the
// request did not ask for them.
func choiceLogprobs(lps []provider.TokenLogprob, asked bool) *ChoiceLogprobs {
	if !asked {
		return nil
	}
	out := &ChoiceLogprobs{Content: make([]LogprobEntry, 0, len(lps)), Refusal: []LogprobEntry{}}
	for _, lp := range lps {
		e := logprobEntry(lp.Token, lp.Logprob)
		e.TopLogprobs = make([]LogprobEntry, 0, len(lp.Top))
		for _, t := range lp.Top {
			e.TopLogprobs = append(e.TopLogprobs, logprobEntry(t.Token, t.Logprob))
		}
		out.Content = append(out.Content, e)
	}
	return out
}

func logprobEntry(tok string, lp float64) LogprobEntry {
	b := make([]int, len(tok))
	for i := 0; i < len(tok); i++ {
		b[i] = int(tok[i])
	}
	if math.IsInf(lp, -1) {
		lp = -9999 // JSON has no -Inf; OpenAI reports -9999.0 for very unlikely tokens
	}
	return LogprobEntry{Token: strings.ToValidUTF8(tok, "\uFFFD"), Logprob: lp, Bytes: b}
}

// chatOut is a ChatCompletion with everything it points to, so that
// encoding an answer takes one allocation rather than one per pointer.
type chatOut struct {
	c      ChatCompletion
	choice [1]ChatChoice
	msg    AnswerMsg
	text   string
	finish FinishReason
	usage  Usage
}

func encodeChat(resp *provider.Response, id, model string, created int64, logprobs bool) *ChatCompletion {
	o := &chatOut{msg: AnswerMsg{Role: "assistant"}, text: provider.TextOf(resp.Message.Content)}
	msg := &o.msg
	msg.Content = &o.text
	for _, b := range resp.Message.Content {
		switch {
		case b.Type == provider.ToolUseBlock && b.ToolUse != nil:
			args := string(b.ToolUse.Input)
			if args == "" {
				args = "{}"
			}
			msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: b.ToolUse.ID, Type: "function",
				Function: FunctionCall{Name: b.ToolUse.Name, Arguments: args}})
		case b.Type == provider.ReasoningBlock && b.Reasoning != nil && b.Reasoning.Text != "":
			r := b.Reasoning.Text
			msg.ReasoningContent = &r
		}
	}
	if len(msg.ToolCalls) > 0 && o.text == "" {
		msg.Content = nil
	}
	o.finish = finishReasonOf(resp.StopReason)
	u := resp.Usage
	o.usage = Usage{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens, TotalTokens: u.InputTokens + u.OutputTokens}
	o.choice[0] = ChatChoice{Index: 0, Message: msg, FinishReason: &o.finish, Logprobs: choiceLogprobs(resp.Logprobs, logprobs)}
	o.c = ChatCompletion{ID: id, Object: "chat.completion", Created: created, Model: model, Choices: o.choice[:], Usage: &o.usage}
	return &o.c
}

// chatStream encodes canonical events as chat.completion.chunk events.
type chatStream struct {
	sse     *dialect.SSE
	id      string
	model   string
	created int64
	usage   bool // stream_options.include_usage
	index   int  // the choice being streamed
	began   bool // the choice's role chunk is out
	tools   int  // tool calls started so far in the choice
	tool    int  // index of the open tool call, or -1
	total   *Usage
	// logprobs: the request asked for log probabilities.
	logprobs bool
}

// begin starts choice i.
func (c *chatStream) begin(i int) {
	c.index, c.began, c.tools, c.tool = i, false, 0, -1
}

func (c *chatStream) chunk(ch ChatChoice, u *Usage) error {
	out := ChatChunk{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model, Usage: u}
	if u == nil {
		ch.Index = c.index
		out.Choices = []ChatChoice{ch}
	} else {
		out.Choices = []ChatChoice{}
	}
	return c.sse.Event("", out)
}

func (c *chatStream) delta(d AnswerMsg) error { return c.chunk(ChatChoice{Delta: &d}, nil) }

func (c *chatStream) event(ev provider.Event) error {
	c.sse.Batch(ev.More)
	if !c.began {
		c.began = true
		empty := ""
		if err := c.delta(AnswerMsg{Role: "assistant", Content: &empty}); err != nil {
			return err
		}
	}
	switch ev.Type {
	case provider.TextDeltaEvent:
		t := ev.Text
		return c.chunk(ChatChoice{Delta: &AnswerMsg{Content: &t}, Logprobs: choiceLogprobs(ev.Logprobs, c.logprobs)}, nil)
	case provider.ReasoningDeltaEvent:
		t := ev.Text
		return c.delta(AnswerMsg{ReasoningContent: &t})
	case provider.BlockStartEvent:
		if ev.ToolUse == nil {
			return nil
		}
		c.tool = c.tools
		c.tools++
		i := c.tool
		return c.delta(AnswerMsg{ToolCalls: []ToolCall{{Index: &i, ID: ev.ToolUse.ID, Type: "function",
			Function: FunctionCall{Name: ev.ToolUse.Name, Arguments: ""}}}})
	case provider.ToolInputDeltaEvent:
		if c.tool < 0 {
			return nil
		}
		i := c.tool
		return c.delta(AnswerMsg{ToolCalls: []ToolCall{{Index: &i, Function: FunctionCall{Arguments: ev.Text}}}})
	case provider.BlockStopEvent:
		c.tool = -1
	case provider.MessageStopEvent:
		return c.chunk(ChatChoice{Delta: &AnswerMsg{}, FinishReason: finishReason(ev.StopReason)}, nil)
	case provider.MetadataEvent:
		// The prompt is counted once, the completions of every choice;
		// the usage chunk is the last one, after every choice.
		u := ev.Usage
		if c.total == nil {
			c.total = &Usage{PromptTokens: u.InputTokens, TotalTokens: u.InputTokens}
		}
		c.total.CompletionTokens += u.OutputTokens
		c.total.TotalTokens += u.OutputTokens
	}
	return nil
}

func (c *chatStream) done() error {
	if !c.began {
		return fault.New(fault.ModelFailed, "The model returned an empty stream.")
	}
	if c.usage && c.total != nil {
		if err := c.chunk(ChatChoice{}, c.total); err != nil {
			return err
		}
	}
	return c.sse.Last("", "[DONE]")
}
